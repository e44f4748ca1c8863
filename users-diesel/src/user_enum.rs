//! Enums stored as text: the trait `#[derive(UserEnum)]` implements.

/// A fieldless enum stored as text, one name per variant: implemented by
/// `#[derive(UserEnum)]`, which also binds it to Diesel's `Text` on every backend. The
/// migrations restrict a column of it to [`UserEnum::VALUES`] with a CHECK constraint.
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use users_diesel::prelude::*;
/// use users_diesel::UserEnum;
///
/// #[derive(Debug, Clone, Copy, PartialEq, UserEnum)]
/// pub enum Plan {
///     Free,
///     ProMonthly,
///     #[user_enum(rename = "team")]
///     Business,
/// }
///
/// assert_eq!(Plan::VALUES, ["free", "pro_monthly", "team"]);
/// assert_eq!(Plan::Business.as_str(), "team");
/// assert_eq!(Plan::from_stored("pro_monthly"), Some(Plan::ProMonthly));
///
/// #[user_model]
/// pub struct User {
///     #[column(default = Plan::Free)]
///     pub plan: Plan,
/// }
/// # }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be stored in a model's column",
    label = "not a mapped type, and no `#[derive(UserEnum)]` enum",
    note = "a fieldless enum derives `UserEnum`; the other mapped types are String, bool, \
            i16, i32, i64, f32, f64, Vec<u8>, Id<Model>, uuid::Uuid, chrono's NaiveDateTime, \
            NaiveDate, NaiveTime and DateTime<Utc>, serde_json::Value and bigdecimal::BigDecimal"
)]
pub trait UserEnum: Sized + 'static {
    /// The stored names, in the order of the variants.
    const VALUES: &'static [&'static str];

    /// The stored name of this variant.
    fn as_str(&self) -> &'static str;

    /// The variant stored as `value`, if any.
    fn from_stored(value: &str) -> Option<Self>;
}

/// The variant of `E` stored as `value`, or an error naming the value (a row written around
/// the CHECK constraint, or by a newer version of the enum).
#[doc(hidden)]
pub fn enum_from_stored<E: UserEnum>(value: String) -> diesel::deserialize::Result<E> {
    E::from_stored(&value).ok_or_else(|| {
        format!(
            "`{value}` is not a stored name of `{}` (one of {:?})",
            std::any::type_name::<E>(),
            E::VALUES
        )
        .into()
    })
}
