//! Reversible migrations, for every service in the registry (a new service
//! is covered by being registered): up → down to zero → up leaves the
//! catalog exactly as the first up did, and `malha migrate` drives it.

use std::process::Command;

use malha::targets::{self, TARGETS};
use malha_kit::db::Pool;
use malha_kit::db::migrations::{self, Track};

/// What PostgreSQL's catalog says `schema` holds, one line per fact:
/// relations (tables, indexes, sequences, views), columns with their type,
/// default and nullability, constraints, indexes, enum types, functions and
/// triggers. Ordered, so two schemas compare line by line.
async fn catalog(pool: &Pool, schema: &str) -> Vec<String> {
    const QUERIES: &[&str] = &[
        "SELECT format('relation %s kind %s', c.relname, c.relkind)
           FROM pg_class c WHERE c.relnamespace = $1::regnamespace",
        // The column's place among the live ones: a dropped column leaves a
        // gap in `ordinal_position` that a re-created table does not have.
        "SELECT format('column %s.%s #%s %s(%s,%s) nullable=%s default=%s identity=%s generated=%s',
                       table_name, column_name,
                       row_number() OVER (PARTITION BY table_name ORDER BY ordinal_position),
                       udt_name, character_maximum_length, numeric_precision, is_nullable,
                       column_default, is_identity, is_generated)
           FROM information_schema.columns WHERE table_schema = $1",
        "SELECT format('constraint %s on %s: %s', conname, conrelid::regclass, pg_get_constraintdef(oid))
           FROM pg_constraint WHERE connamespace = $1::regnamespace",
        "SELECT format('index %s on %s: %s', indexname, tablename, indexdef)
           FROM pg_indexes WHERE schemaname = $1",
        "SELECT format('enum %s: %s', t.typname, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder))
           FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
          WHERE t.typnamespace = $1::regnamespace GROUP BY t.typname",
        "SELECT format('function %s: %s', p.proname, pg_get_functiondef(p.oid))
           FROM pg_proc p WHERE p.pronamespace = $1::regnamespace",
        "SELECT format('trigger %s on %s: %s', t.tgname, t.tgrelid::regclass, pg_get_triggerdef(t.oid))
           FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
          WHERE NOT t.tgisinternal AND c.relnamespace = $1::regnamespace",
    ];
    let mut lines = Vec::new();
    for query in QUERIES {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(*query))
            .bind(schema)
            .fetch_all(pool)
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"));
        lines.extend(rows);
    }
    lines.sort();
    lines
}

/// Fails with the lines only one side has (the catalogs are long).
fn assert_same_catalog(before: &[String], after: &[String], what: &str) {
    let gone: Vec<_> = before.iter().filter(|l| !after.contains(l)).collect();
    let new: Vec<_> = after.iter().filter(|l| !before.contains(l)).collect();
    assert!(
        gone.is_empty() && new.is_empty(),
        "{what}\nonly before: {gone:#?}\nonly after: {new:#?}"
    );
}

/// True for the relations that outlive every migration: the two history
/// tables and their primary keys.
fn is_history(line: &str) -> bool {
    ["_sqlx_migrations", "_malha_events_migrations"]
        .iter()
        .any(|table| line.contains(table))
}

#[tokio::test]
async fn every_service_migrates_down_to_zero_and_back_to_the_same_schema() {
    let db = malha_testkit::fresh_database().await.unwrap();
    for target in TARGETS {
        let schema = target.schema.name;
        let pool = targets::pool(&db.url, None, target, 2).unwrap();
        malha_kit::db::migrate(&pool, target.schema).await.unwrap();
        let before = catalog(&pool, schema).await;
        assert!(
            before.iter().any(|line| !is_history(line)),
            "{schema}: the first up created nothing"
        );
        let applied = migrations::status(&pool, target.schema).await.unwrap();
        assert!(applied.iter().all(|step| step.applied_at.is_some()));
        assert!(applied.iter().any(|step| step.track == Track::Events));

        let reverted = migrations::revert(&pool, target.schema, usize::MAX)
            .await
            .unwrap();
        assert_eq!(
            reverted.len(),
            applied.len(),
            "{schema}: every step reverted"
        );
        let left: Vec<_> = catalog(&pool, schema)
            .await
            .into_iter()
            .filter(|line| !is_history(line))
            .collect();
        assert!(
            left.is_empty(),
            "{schema}: left after down to zero: {left:#?}"
        );
        let pending = migrations::status(&pool, target.schema).await.unwrap();
        assert!(
            pending.iter().all(|step| step.applied_at.is_none()),
            "{pending:?}"
        );

        malha_kit::db::migrate(&pool, target.schema).await.unwrap();
        let after = catalog(&pool, schema).await;
        assert_same_catalog(
            &before,
            &after,
            &format!("{schema}: up → down → up changed the schema"),
        );
        pool.close().await;
    }
}

#[tokio::test]
async fn one_step_down_reverts_the_newest_migration_and_up_restores_it() {
    let db = malha_testkit::fresh_database().await.unwrap();
    for target in TARGETS {
        let pool = targets::pool(&db.url, None, target, 2).unwrap();
        malha_kit::db::migrate(&pool, target.schema).await.unwrap();
        let before = catalog(&pool, target.schema.name).await;
        let newest = target
            .schema
            .migrator
            .iter()
            .map(|m| m.version)
            .max()
            .unwrap();

        let reverted = migrations::revert(&pool, target.schema, 1).await.unwrap();
        assert_eq!(reverted.len(), 1);
        assert_eq!(
            (reverted[0].track, reverted[0].version),
            (Track::Service, newest),
            "{}: a fresh schema's newest step is its own newest migration",
            target.name
        );
        // A migration that only adds rows (identity's clinic roles) leaves
        // the catalog as it was; any other must visibly change it.
        let data_only = target
            .schema
            .migrator
            .iter()
            .filter(|m| m.version == newest && m.migration_type.is_up_migration())
            .all(|m| {
                let sql = m.sql.as_str().to_ascii_uppercase();
                !["CREATE", "ALTER", "DROP"]
                    .iter()
                    .any(|ddl| sql.contains(ddl))
            });
        if !data_only {
            assert_ne!(catalog(&pool, target.schema.name).await, before);
        }

        malha_kit::db::migrate(&pool, target.schema).await.unwrap();
        let after = catalog(&pool, target.schema.name).await;
        assert_same_catalog(&before, &after, target.name);
        pool.close().await;
    }
}

fn malha(database_url: &str, args: &[&str]) -> String {
    run(Command::new(env!("CARGO_BIN_EXE_malha"))
        .args(args)
        .env("DATABASE_URL", database_url))
}

/// Runs `command` (the malha binary) and returns its stdout; it must succeed.
fn run(command: &mut Command) -> String {
    let args: Vec<_> = command.get_args().map(|a| a.to_owned()).collect();
    let output = command
        .env_remove("MALHA_TARGET")
        .output()
        .expect("the malha binary runs");
    assert!(
        output.status.success(),
        "malha {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn malha_migrate_applies_reverts_and_reports_status() {
    let db = malha_testkit::fresh_database().await.unwrap();

    let status = malha(&db.url, &["migrate", "status", "--target", "identity"]);
    assert!(status.starts_with("identity\n"), "{status}");
    assert!(status.contains("service 0001 identity"), "{status}");
    assert!(
        !status.contains("applied"),
        "nothing applied yet:\n{status}"
    );

    let migrated = malha(&db.url, &["migrate", "--target", "identity,orders"]);
    assert_eq!(migrated, "migrated identity\nmigrated orders\n");
    let status = malha(&db.url, &["migrate", "status", "--target", "identity"]);
    assert!(!status.contains("pending"), "{status}");
    assert!(
        status.contains("events 0001 outbox inbox") && status.contains("applied 2"),
        "{status}"
    );

    let identity = targets::resolve("identity").unwrap()[0];
    let newest = identity
        .schema
        .migrator
        .iter()
        .max_by_key(|m| m.version)
        .unwrap();
    let newest = format!("service {:04} {}", newest.version, newest.description);
    let reverted = malha(&db.url, &["migrate", "--target", "identity", "--down", "1"]);
    assert_eq!(reverted, format!("identity: reverted {newest}\n"));
    let status = malha(&db.url, &["migrate", "status", "--target", "identity"]);
    let pending: Vec<_> = status.lines().filter(|l| l.ends_with("pending")).collect();
    assert_eq!(pending.len(), 1, "{status}");
    assert!(pending[0].contains(&newest), "{status}");

    let all_down = malha(&db.url, &["migrate", "--down", "100"]);
    let last = targets::TARGETS.last().unwrap().name;
    assert!(
        all_down.starts_with(&format!("{last}: ")),
        "reverse start-up order:\n{all_down}"
    );
    assert!(all_down.contains("orders: reverted"), "{all_down}");
    assert!(all_down.contains("projects: nothing applied"), "{all_down}");
    let status = malha(&db.url, &["migrate", "status"]);
    assert!(!status.contains("applied"), "{status}");
}

/// A data directory laid out as `malha up` leaves it: `<dir>/postgres`
/// holding a cluster with the `malha` database.
async fn local_up_data_dir() -> (tempfile::TempDir, malha_testkit::PgCluster) {
    let dir = tempfile::tempdir().unwrap();
    // The server may run as another user (when the tests run as root).
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let cluster =
        malha_testkit::PgCluster::start(&dir.path().join("postgres"), malha_testkit::free_port())
            .await
            .unwrap();
    cluster.create_database("malha").await.unwrap();
    (dir, cluster)
}

fn malha_beside_up(data_dir: &std::path::Path, args: &[&str]) -> String {
    run(Command::new(env!("CARGO_BIN_EXE_malha"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env("MALHA_DATA_DIR", data_dir))
}

#[tokio::test]
async fn malha_migrate_finds_the_database_of_a_running_malha_up() {
    let (dir, cluster) = local_up_data_dir().await;

    let migrated = malha_beside_up(dir.path(), &["migrate", "--target", "suppliers"]);
    assert_eq!(migrated, "migrated suppliers\n");

    // The running server's own database changed, not some other one.
    let pool = targets::pool(&cluster.url("malha"), None, &malha_suppliers::SERVICE, 1).unwrap();
    let applied = migrations::status(&pool, &malha_suppliers::SCHEMA)
        .await
        .unwrap();
    assert!(
        applied.iter().all(|step| step.applied_at.is_some()),
        "{applied:?}"
    );
    pool.close().await;
    cluster.stop().await;
}

#[tokio::test]
async fn malha_migrate_starts_a_stopped_malha_up_database_for_the_command() {
    let (dir, cluster) = local_up_data_dir().await;
    cluster.stop().await;

    malha_beside_up(dir.path(), &["migrate", "--target", "projects"]);
    let status = malha_beside_up(dir.path(), &["migrate", "status", "--target", "projects"]);
    assert!(status.starts_with("projects\n"), "{status}");
    assert!(
        !status.contains("pending"),
        "applied in the stopped cluster:\n{status}"
    );
    assert!(
        !dir.path().join("postgres/postmaster.pid").exists(),
        "the server started for the command is stopped after it"
    );
}

#[test]
fn malha_migrate_without_a_database_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_malha"))
        .args(["migrate", "status"])
        .env_remove("DATABASE_URL")
        .env("MALHA_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("DATABASE_URL") && stderr.contains("malha up"),
        "{stderr}"
    );
}
