use users_diesel::prelude::*;

mod schema {
    diesel::table! {
        users (id) {
            id -> Binary,
            email -> Text,
            password_hash -> Text,
            is_active -> Bool,
            is_verified -> Bool,
        }
    }
}

#[user_model(schema = schema::users)]
pub struct User {
    // The table has no such column.
    pub display_name: Option<String>,
}

fn main() {}
