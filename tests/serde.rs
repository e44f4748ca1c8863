//! With the `serde` feature, a user model that derives `Serialize` never serializes its
//! password hash, and ids serialize as UUID strings.
#![cfg(feature = "serde")]

use users_diesel::prelude::*;

#[user_model]
#[derive(serde::Serialize, serde::Deserialize)]
pub struct User {
    pub display_name: Option<String>,
}

#[test]
fn the_password_hash_is_never_serialized() {
    let user = User {
        display_name: Some("Alice".into()),
        ..User::from_credentials(
            Id::new(),
            "alice@example.com".into(),
            "$argon2id$secret".into(),
        )
    };
    let json = serde_json::to_value(&user).unwrap();
    assert!(!json.to_string().contains("argon2id"), "{json}");
    assert!(json.get("password_hash").is_none(), "{json}");
    assert_eq!(json["id"], serde_json::json!(user.id.to_string()));
    assert_eq!(json["email"], "alice@example.com");

    // Nor can a request body set it.
    let mut body = json.clone();
    body["password_hash"] = "$argon2id$forged".into();
    let parsed: User = serde_json::from_value(body).unwrap();
    assert_eq!(parsed.password_hash, "");
    assert_eq!(parsed.id, user.id);
}
