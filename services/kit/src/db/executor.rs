//! `&Pool` as an sqlx executor (one pooled connection per statement) and
//! `Tx`, a transaction that owns its pooled connection.

use futures::TryStreamExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use sqlx::postgres::{PgQueryResult, PgRow, PgStatement, PgTypeInfo};
use sqlx::{Describe, Either, Execute, Executor, PgConnection, Postgres, SqlStr};
use sqlx_core::ext::async_stream::TryAsyncStream;
use sqlx_core::transaction::TransactionManager;

use super::pool::{Conn, Pool, breaks_connection};

type Manager = <Postgres as sqlx::Database>::TransactionManager;

/// Runs `work` on `conn`, marking the connection suspect while the work is in
/// flight (so a cancelled call gets it checked before reuse) and closing it
/// after a transport error.
async fn tracked<T>(
    conn: &mut Conn,
    work: impl AsyncFnOnce(&mut PgConnection) -> Result<T, sqlx::Error>,
) -> Result<T, sqlx::Error> {
    conn.suspect = true;
    let result = work(&mut **conn).await;
    match &result {
        Err(error) if breaks_connection(error) => conn.discard(),
        _ => conn.suspect = false,
    }
    result
}

impl<'p> Executor<'p> for &'_ Pool {
    type Database = Postgres;

    fn execute<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<PgQueryResult, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let pool = self.clone();
        Box::pin(async move {
            let mut conn = pool.acquire().await?;
            tracked(&mut conn, async |c| c.execute(query).await).await
        })
    }

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let pool = self.clone();
        Box::pin(TryAsyncStream::new(move |yielder| async move {
            let mut conn = pool.acquire().await?;
            conn.suspect = true;
            let mut results = conn.fetch_many(query);
            loop {
                match results.try_next().await {
                    Ok(Some(step)) => yielder.r#yield(step).await,
                    Ok(None) => break,
                    Err(error) => {
                        drop(results);
                        if breaks_connection(&error) {
                            conn.discard();
                        }
                        return Err(error);
                    }
                }
            }
            drop(results);
            conn.suspect = false;
            Ok(())
        }))
    }

    fn fetch_all<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<Vec<PgRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let pool = self.clone();
        Box::pin(async move {
            let mut conn = pool.acquire().await?;
            tracked(&mut conn, async |c| c.fetch_all(query).await).await
        })
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let pool = self.clone();
        Box::pin(async move {
            let mut conn = pool.acquire().await?;
            tracked(&mut conn, async |c| c.fetch_optional(query).await).await
        })
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement, sqlx::Error>>
    where
        'p: 'e,
    {
        let pool = self.clone();
        Box::pin(async move {
            let mut conn = pool.acquire().await?;
            tracked(&mut conn, async |c| c.prepare_with(sql, parameters).await).await
        })
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<Describe<Postgres>, sqlx::Error>>
    where
        'p: 'e,
    {
        let pool = self.clone();
        Box::pin(async move {
            let mut conn = pool.acquire().await?;
            tracked(&mut conn, async |c| c.describe(sql).await).await
        })
    }
}

/// A transaction on a pooled connection. Derefs to the connection (`&mut
/// *tx` is an executor); dropped without `commit`, it rolls back — the
/// ROLLBACK is queued on the connection and the connection is checked before
/// its next user gets it.
pub struct Tx {
    conn: Conn,
    open: bool,
    /// BEGIN sent and not yet answered.
    beginning: bool,
}

impl Tx {
    pub(crate) async fn begin(conn: Conn) -> Result<Self, sqlx::Error> {
        let mut tx = Self {
            conn,
            open: false,
            beginning: true,
        };
        tracked(&mut tx.conn, async |c| Manager::begin(c, None).await).await?;
        tx.beginning = false;
        tx.open = true;
        Ok(tx)
    }

    /// Commits; the connection goes back to the pool.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        tracked(&mut self.conn, async |c| Manager::commit(c).await).await?;
        self.open = false;
        Ok(())
    }

    /// Rolls back now (dropping the transaction does it lazily).
    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        tracked(&mut self.conn, async |c| Manager::rollback(c).await).await?;
        self.open = false;
        Ok(())
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if self.beginning {
            // Cut off (or failed) between sending BEGIN and its answer: sqlx
            // counts no transaction while the server may have one open, and
            // the next user's writes would run inside it, uncommitted. The
            // connection is closed instead of reused.
            self.conn.discard();
        } else if self.open {
            if let Some(conn) = self.conn.conn_mut() {
                Manager::start_rollback(conn);
            }
            self.conn.suspect = true;
        }
    }
}

impl std::ops::Deref for Tx {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx").field("open", &self.open).finish()
    }
}
