use users_diesel::prelude::*;

mod schema {
    diesel::table! {
        users (id) {
            id -> Text,
            email -> Text,
            password_hash -> Text,
            is_active -> Bool,
            is_verified -> Bool,
        }
    }
}

// The id is text, which cannot hold a typed id.
#[user_model(schema = schema::users)]
pub struct User {}

fn main() {}
