use users_diesel::prelude::*;

pub struct PlanMapping;

#[user_model]
pub struct User {
    #[column(sql_type = PlanMapping)]
    pub plan: String,
}

fn main() {}
