//! Expansion snapshots: each input is recorded in its snapshot's description, the output is
//! pretty-printed as `cargo expand` would show it. Review changes with `cargo insta review`.

use proc_macro2::TokenStream;

use crate::attr::MacroKind;
use crate::entry::expand_for;
use crate::expand::Backend;

fn expand(kind: MacroKind, attr: &str, item: &str, asynchronous: bool) -> String {
    let attr: TokenStream = attr.parse().expect("attribute tokens");
    let item: TokenStream = item.parse().expect("item tokens");
    let output = expand_for(kind, attr, item, &Backend::ALL, asynchronous);
    let file = syn::parse2::<syn::File>(output).expect("the expansion parses as a file");
    prettyplease::unparse(&file)
}

macro_rules! snapshot {
    ($name:literal, $kind:ident, attr = $attr:literal, item = $item:literal) => {
        snapshot!($name, $kind, attr = $attr, item = $item, asynchronous = false)
    };
    ($name:literal, $kind:ident, attr = $attr:literal, item = $item:literal, asynchronous = $async:literal) => {{
        let kind = MacroKind::$kind;
        let attribute = kind.attribute().trim_end_matches(']');
        let features = if $async { "// with users-diesel's `async` feature\n" } else { "" };
        let description = format!("{features}{attribute}({})]\n{}", $attr, $item);
        insta::with_settings!({ description => description, omit_expression => true }, {
            insta::assert_snapshot!($name, expand(kind, $attr, $item, $async));
        });
    }};
}

#[test]
fn quickstart_model() {
    snapshot!(
        "quickstart_model",
        User,
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
        User,
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
        User,
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
        User,
        attr = "tabel = \"accounts\"",
        item = "pub struct User {
    pub email: String,
    #[column(uniq)]
    pub nickname: Vec<String>,
}"
    );
}

#[test]
fn role_model_defaults() {
    snapshot!(
        "role_model_defaults",
        Role,
        attr = "",
        item = "pub struct Role {}"
    );
}

#[test]
fn role_model_with_every_option() {
    snapshot!(
        "role_model_with_every_option",
        Role,
        attr = "table = \"groups\", join_table = \"memberships\", user = crate::models::Account",
        item = "pub struct Group {
    #[column(default = 0)]
    pub rank: i32,
}"
    );
}

#[test]
fn async_stores() {
    snapshot!(
        "async_stores",
        User,
        attr = "timestamps",
        item = "pub struct User {}",
        asynchronous = true
    );
}

#[test]
fn async_role_stores() {
    snapshot!(
        "async_role_stores",
        Role,
        attr = "",
        item = "pub struct Role {}",
        asynchronous = true
    );
}
