use users_diesel::UserEnum;

#[derive(Debug, UserEnum)]
pub enum Plan {
    Free,
    Paid(u32),
    #[user_enum(rename = "free")]
    Gratis,
}

fn main() {}
