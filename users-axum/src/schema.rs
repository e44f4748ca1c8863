//! The building blocks of the OpenAPI document's schemas: strings, addresses, passwords,
//! times and objects, as every area's schemas use them.

use serde_json::json;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{RefOr, Schema};

/// The methods that complete a login.
pub(crate) fn methods() -> ArrayBuilder {
    ArrayBuilder::new().items(string().enum_values(Some(["totp", "recovery_code", "passkey"])))
}

/// Any JSON object (WebAuthn's, as the browser makes and takes them).
#[cfg(feature = "passkeys")]
pub(crate) fn free_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::FreeForm(true)))
}

/// A TOTP code: six digits.
pub(crate) fn totp_code() -> ObjectBuilder {
    string().examples([json!("123456")])
}

pub(crate) fn uuid() -> ObjectBuilder {
    string().format(Some(SchemaFormat::Custom("uuid".to_owned())))
}

pub(crate) fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

pub(crate) fn nullable_string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null]))
}

/// An address as the manager takes it: one `@` between non-empty parts, no whitespace or
/// control characters but around it (trimmed), any case (lowercased). The manager's 254-byte
/// bound is not a length in characters, so it is left to the 422.
pub(crate) fn email() -> ObjectBuilder {
    string()
        .pattern(Some(r"^\s*[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\s*$"))
        .examples([json!("alice@example.com")])
}

pub(crate) fn password() -> ObjectBuilder {
    string()
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Password)))
        .examples([json!("correct horse battery staple")])
}

/// A new password: at least 8 characters and at most 4096 bytes. A character takes up to 4
/// bytes, so no length in characters is the byte bound; 4096 characters refuses nothing the
/// manager takes. The strength estimate is no schema rule: its refusal is `invalid_password`
/// with the reason `too_weak`.
pub(crate) fn new_password() -> ObjectBuilder {
    password()
        .min_length(Some(8))
        .max_length(Some(4096))
        .description(Some(
            "a new password: also refused (`invalid_password`, reason `too_weak`) if it is too \
             easy to guess, or made of the account's email address or profile",
        ))
}

pub(crate) fn boolean() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Boolean)
}

/// A closed object with these properties, the `required` ones required.
pub(crate) fn object(properties: Vec<(&str, RefOr<Schema>)>, required: &[&str]) -> ObjectBuilder {
    let mut object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    for (name, schema) in properties {
        object = object.property(name, schema);
    }
    for name in required {
        object = object.required(*name);
    }
    object
}

/// The name and schema of a typed answer or body, for the document's components.
pub(crate) fn typed<T: utoipa::ToSchema>() -> (String, RefOr<Schema>) {
    (T::name().into_owned(), T::schema())
}

/// `(name, schema)` pairs with owned names.
pub(crate) fn named(schemas: Vec<(&str, RefOr<Schema>)>) -> Vec<(String, RefOr<Schema>)> {
    schemas
        .into_iter()
        .map(|(name, schema)| (name.to_owned(), schema))
        .collect()
}
