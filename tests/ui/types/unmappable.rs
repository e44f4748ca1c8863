use std::collections::HashMap;
use users_diesel::prelude::*;

#[user_model]
pub struct User {
    pub tags: Vec<String>,
    pub settings: HashMap<String, String>,
    pub count: u32,
}

fn main() {}
