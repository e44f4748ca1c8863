use users_diesel::UserEnum;

#[derive(Debug, UserEnum)]
pub enum Plan {
    Free,
    Paid(u32),
    #[user_enum(rename = "free")]
    Gratis,
}

// The enum in use, as written: the derive adds no error of its own.
fn main() {
    let _plans = [Plan::Free, Plan::Paid(1), Plan::Gratis];
}
