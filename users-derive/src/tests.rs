//! Expansion snapshots: each input is recorded in its snapshot's description, the output is
//! pretty-printed as `cargo expand` would show it. Review changes with `cargo insta review`.

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;

use crate::attr::MacroKind;
use crate::entry::expand_for;
use crate::expand::Backend;

fn expand(kind: MacroKind, attr: &str, item: &str, asynchronous: bool) -> String {
    expand_on(kind, attr, item, &Backend::ALL, asynchronous)
}

fn expand_on(
    kind: MacroKind,
    attr: &str,
    item: &str,
    backends: &[Backend],
    asynchronous: bool,
) -> String {
    let attr: TokenStream = attr.parse().expect("attribute tokens");
    let item: TokenStream = item.parse().expect("item tokens");
    pretty(expand_for(kind, attr, item, backends, asynchronous))
}

/// The expansion as `cargo expand` lays it out, except that `table!` invocations (whose bodies
/// prettyplease leaves on one line) are laid out as one writes them by hand.
fn pretty(output: TokenStream) -> String {
    let file = syn::parse2::<syn::File>(output).expect("the expansion parses as a file");
    let mut pretty = String::new();
    for item in file.items {
        match item {
            syn::Item::Macro(item)
                if item
                    .mac
                    .path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "table") =>
            {
                let path = item.mac.path.to_token_stream().to_string().replace(' ', "");
                pretty.push_str(&format!("{path}! {{\n"));
                print_table_body(item.mac.tokens, 1, &mut pretty);
                pretty.push_str("}\n");
            }
            other => pretty.push_str(&prettyplease::unparse(&syn::File {
                shebang: None,
                attrs: Vec::new(),
                items: vec![other],
            })),
        }
    }
    pretty
}

/// One line per `use`, attribute and column; `#[doc = "…"]` as `///…`; braces indent.
fn print_table_body(tokens: TokenStream, depth: usize, out: &mut String) {
    let indent = "    ".repeat(depth);
    let mut line = String::new();
    // After a joint punctuation mark (the first `:` of `::`) the next token follows directly.
    let mut joint = false;
    let mut tokens = tokens.into_iter().peekable();
    while let Some(token) = tokens.next() {
        match token {
            TokenTree::Punct(p) if p.as_char() == '#' => {
                let Some(TokenTree::Group(attr)) = tokens.next() else {
                    continue;
                };
                let attr: syn::Meta = syn::parse2(attr.stream()).expect("an attribute");
                match attr {
                    syn::Meta::NameValue(doc) if doc.path.is_ident("doc") => {
                        let text = match doc.value {
                            syn::Expr::Lit(syn::ExprLit {
                                lit: syn::Lit::Str(text),
                                ..
                            }) => text.value(),
                            _ => String::new(),
                        };
                        out.push_str(&format!("{indent}///{text}\n"));
                    }
                    other => {
                        out.push_str(&format!("{indent}#[{}]\n", tidy(other.to_token_stream())))
                    }
                }
            }
            TokenTree::Punct(p) if p.as_char() == ';' || p.as_char() == ',' => {
                let text = line.trim().replace(" ::", "::").replace("use::", "use ::");
                out.push_str(&format!("{indent}{text}{}\n", p.as_char()));
                line.clear();
            }
            TokenTree::Group(group) if group.delimiter() == proc_macro2::Delimiter::Brace => {
                out.push_str(&format!("{indent}{} {{\n", line.trim()));
                line.clear();
                print_table_body(group.stream(), depth + 1, out);
                out.push_str(&format!("{indent}}}\n"));
            }
            other => {
                let glue = joint || line.is_empty() || line.ends_with("::") || line.ends_with('<');
                joint = matches!(&other, TokenTree::Punct(p) if p.spacing() == proc_macro2::Spacing::Joint);
                let text = tidy(other.into_token_stream());
                let glue = glue
                    || text == "::"
                    || text.starts_with('<')
                    || text.starts_with('>')
                    || (text == ":" && line.ends_with(':'));
                if !glue {
                    line.push(' ');
                }
                line.push_str(&text);
            }
        }
    }
    if !line.trim().is_empty() {
        out.push_str(&format!("{indent}{}\n", line.trim()));
    }
}

fn tidy(tokens: TokenStream) -> String {
    tokens
        .to_string()
        .replace(" :: ", "::")
        .replace(":: ", "::")
        .replace(" < ", "<")
        .replace(" >", ">")
        .replace("< ", "<")
        .replace("( ", "(")
        .replace(" )", ")")
        .replace(" ,", ",")
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
        attr = "table = \"accounts\", timestamps, crate = my_app::users_diesel, dropped_columns = [\"legacy\"]",
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
    #[column(index, renamed_from = \"squad\")]
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
fn every_mapped_type() {
    snapshot!(
        "every_mapped_type",
        User,
        attr = "",
        item = "pub struct User {
    pub seen_at: chrono::DateTime<chrono::Utc>,
    pub settings: Option<serde_json::Value>,
    #[column(precision = 10, scale = 2)]
    pub balance: bigdecimal::BigDecimal,
    #[column(unique)]
    pub external_id: uuid::Uuid,
    #[column(default = Plan::Free)]
    pub plan: Plan,
}"
    );
}

#[test]
fn user_enum_derive() {
    let output = crate::user_enum::expand_user_enum(
        "#[derive(UserEnum)] pub enum Plan { Free, ProMonthly, #[user_enum(rename = \"team\")] Business }"
            .parse()
            .expect("item tokens"),
    );
    insta::assert_snapshot!("user_enum_derive", pretty(output));
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
fn user_model_bound_to_a_printed_schema() {
    snapshot!(
        "user_model_schema",
        User,
        attr = "schema = crate::schema::users, timestamps",
        item = "pub struct User {
    pub display_name: Option<String>,
}"
    );
}

#[test]
fn role_model_bound_to_a_printed_schema() {
    snapshot!(
        "role_model_schema",
        Role,
        attr = "schema = crate::schema::groups, join_table = \"memberships\", user = Account",
        item = "pub struct Group {}"
    );
}

#[test]
fn org_model_defaults() {
    snapshot!(
        "org_model_defaults",
        Org,
        attr = "",
        item = "/// A team of users.
pub struct Org {
    #[column(default = 5)]
    pub seats: i32,
}"
    );
}

#[test]
fn org_model_with_every_option() {
    snapshot!(
        "org_model_with_every_option",
        Org,
        attr = "table = \"teams\", members_table = \"team_members\", invitations_table = \"team_invitations\", user = Account, crate = my_app::users_diesel, dropped_columns = [\"legacy\"]",
        item = "pub struct Team {}"
    );
}

/// `docs/expansion.md` shows the quickstart's models expanded for the default (SQLite) build;
/// its code blocks must be exactly what the macros generate. `USERS_BLESS_DOCS=1` rewrites them.
#[test]
fn expansion_page_matches_the_macros() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/expansion.md");
    let page = std::fs::read_to_string(&path).expect("docs/expansion.md");
    let user = expand_on(
        MacroKind::User,
        "",
        "/// An application's user: the five injected fields, plus its own.
pub struct User {
    pub display_name: Option<String>,
    #[column(default = 0)]
    pub token_count: i32,
}",
        &[Backend::Sqlite],
        false,
    );
    let role = expand_on(
        MacroKind::Role,
        "",
        "/// A role users can be given.
pub struct Role {}",
        &[Backend::Sqlite],
        false,
    );
    let mut expected = page.clone();
    for (name, code) in [("user", user), ("role", role)] {
        let start = format!("<!-- expansion:{name} -->\n```rust\n");
        let from = expected.find(&start).expect("a marked block") + start.len();
        let to = from + expected[from..].find("```").expect("the block's end");
        expected.replace_range(from..to, &code);
    }
    if std::env::var_os("USERS_BLESS_DOCS").is_some() {
        std::fs::write(&path, &expected).expect("write docs/expansion.md");
    } else {
        assert!(
            page == expected,
            "docs/expansion.md differs from the expansion; rerun with USERS_BLESS_DOCS=1"
        );
    }
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

/// After an error the model is expanded anyway: a field whose `#[column]` keys are wrong keeps
/// its column without them, a field whose type is the mistake is left out, a derive the macro
/// writes itself is dropped, and the errors come beside it.
#[test]
fn a_model_is_expanded_beside_its_errors_with_defaults_for_the_broken_parts() {
    let expanded = expand_on(
        MacroKind::User,
        "",
        "#[derive(Debug, serde::Serialize)]
pub struct User {
    #[column(max_length = 10)]
    pub age: i32,
    pub count: u32,
    #[column(name = \"display name\")]
    pub display_name: Option<String>,
}",
        &[Backend::Sqlite],
        false,
    );
    for expected in [
        "pub age: i32",
        "age -> Integer",
        "pub display_name: Option<String>",
        "display_name -> Nullable<Text>",
        "#[derive(serde::Serialize)]",
        "impl UserStore<diesel::sqlite::SqliteConnection> for User",
        "`max_length` applies to text and binary columns only",
        "`u32` has no SQL type on every backend",
        "`display name` cannot be a column name",
    ] {
        assert!(expanded.contains(expected), "{expected} in {expanded}");
    }
    assert!(!expanded.contains("pub count"), "{expanded}");
    assert!(!expanded.contains("count ->"), "{expanded}");
    assert!(!expanded.contains("derive(Debug"), "{expanded}");
}
