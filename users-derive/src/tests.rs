//! Expansion snapshots: each input is recorded in its snapshot's description, the output is
//! pretty-printed as `cargo expand` would show it. Review changes with `cargo insta review`.

use proc_macro2::TokenStream;

use crate::expand::Backend;
use crate::user_model::expand_user_model_for;

fn expand(attr: &str, item: &str) -> String {
    let attr: TokenStream = attr.parse().expect("attribute tokens");
    let item: TokenStream = item.parse().expect("item tokens");
    let output = expand_user_model_for(attr, item, &Backend::ALL);
    let file = syn::parse2::<syn::File>(output).expect("the expansion parses as a file");
    prettyplease::unparse(&file)
}

macro_rules! snapshot {
    ($name:literal, attr = $attr:literal, item = $item:literal) => {{
        let description = format!("#[user_model({})]\n{}", $attr, $item);
        insta::with_settings!({ description => description, omit_expression => true }, {
            insta::assert_snapshot!($name, expand($attr, $item));
        });
    }};
}

#[test]
fn quickstart_model() {
    snapshot!(
        "quickstart_model",
        attr = "",
        item = "/// An application's user.
pub struct User {
    pub display_name: Option<String>,
    #[column(default = 0)]
    pub token_count: i32,
}"
    );
}

#[test]
fn every_model_option() {
    snapshot!(
        "every_model_option",
        attr = "table = \"accounts\", timestamps, crate = my_app::users_diesel",
        item = "pub struct Account {
    pub nickname: Option<String>,
}"
    );
}

#[test]
fn every_column_key() {
    snapshot!(
        "every_column_key",
        attr = "",
        item = "#[derive(serde::Serialize)]
pub struct User {
    #[column(unique, max_length = 32)]
    pub username: String,
    #[column(index)]
    pub team: Option<i64>,
    #[column(default = \"free\", name = \"plan_name\")]
    pub plan: String,
    #[column(default = -1.5)]
    pub score: f64,
    #[column(sql_type = diesel::sql_types::Jsonb)]
    pub settings: serde_json::Value,
    pub avatar: Option<Vec<u8>>,
}"
    );
}

#[test]
fn errors_are_reported_together_beside_the_item() {
    snapshot!(
        "errors_beside_the_item",
        attr = "tabel = \"accounts\"",
        item = "pub struct User {
    pub email: String,
    #[column(uniq)]
    pub nickname: Vec<String>,
}"
    );
}
