use users_diesel::prelude::*;

#[user_model]
pub struct User {
    pub balance: bigdecimal::BigDecimal,
    #[column(precision = 70, scale = 2)]
    pub wide: bigdecimal::BigDecimal,
    #[column(scale = 2)]
    pub count: i32,
}

fn main() {}
