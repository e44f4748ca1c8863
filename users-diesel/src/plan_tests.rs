//! The planner's decisions for SQLite's decimal text.

use super::*;

const BALANCE: Column = Column::new(
    "balance",
    ColumnType::Numeric {
        precision: 10,
        scale: 2,
    },
)
.indexed();
const TABLE: Table = Table {
    name: "wallets",
    columns: &[BALANCE],
    primary_key: &[],
    foreign_keys: &[],
    dropped_columns: &[],
};

/// The table as an earlier users-diesel left it: the decimal as text, indexed.
fn as_text(type_name: &str) -> TableState {
    TableState {
        columns: vec![ColumnState {
            name: "balance".into(),
            type_name: type_name.into(),
            nullable: false,
            has_default: false,
            default: None,
        }],
        indexes: vec![IndexState {
            name: "wallets_balance_idx".into(),
            columns: vec!["balance".into()],
            unique: false,
        }],
    }
}

#[test]
fn sqlite_decimal_text_is_converted_after_a_check_and_its_index_recreated() {
    let plan = plan_table(Dialect::Sqlite, &TABLE, Some(&as_text("TEXT")));
    assert!(plan.refusals.is_empty(), "{:?}", plan.refusals);
    assert_eq!(
        plan.checks,
        [Check::FitsDecimal {
            column: "balance",
            precision: 10,
            scale: 2
        }]
    );
    let [change] = &plan.changes[..] else {
        panic!("{:?}", plan.changes)
    };
    let up = change.up(Dialect::Sqlite, &TABLE);
    let down = change.down(Dialect::Sqlite, &TABLE).unwrap();
    for sql in [&up, &down] {
        assert!(
            sql.starts_with("DROP INDEX \"wallets_balance_idx\";"),
            "{sql}"
        );
        assert!(
            sql.ends_with("CREATE INDEX \"wallets_balance_idx\" ON \"wallets\" (\"balance\");\n")
        );
    }
    assert!(up.contains("INTEGER NOT NULL DEFAULT 0 CHECK"), "{up}");
    assert!(down.contains("TEXT NOT NULL DEFAULT '0'"), "{down}");
}

#[test]
fn an_integer_decimal_column_is_left_alone_and_text_elsewhere_is_a_type_change() {
    let plan = plan_table(Dialect::Sqlite, &TABLE, Some(&as_text("INTEGER")));
    assert_eq!(plan, TablePlan::default());
    let plan = plan_table(Dialect::Postgres, &TABLE, Some(&as_text("text")));
    assert!(matches!(plan.refusals[..], [Refusal::TypeChanged { .. }]));
}
