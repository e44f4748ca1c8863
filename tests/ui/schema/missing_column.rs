use users_diesel::prelude::*;

mod schema {
    diesel::table! {
        users (id) {
            id -> Binary,
            email -> Text,
            password_hash -> Text,
            is_active -> Bool,

        }
    }
}

// `is_verified` is missing from the table.
#[user_model(schema = schema::users)]
pub struct User {}

fn main() {}
