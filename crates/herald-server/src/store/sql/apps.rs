//! Application rows.

use sqlx::Pool;

use super::query::{query, Sql};
use super::{finish_page, push_page, rows, Backend};
use crate::store::*;

pub async fn insert<D: Backend>(w: &D::Writer, a: &App) -> Result<()> {
    query::<D>(
        "INSERT INTO apps (id, uid, name, metadata, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&a.id)
    .bind(&a.uid)
    .bind(&a.name)
    .bind(a.metadata.to_string())
    .bind(a.created_at)
    .bind(a.updated_at)
    .execute(&mut *D::lock_writer(w).await?)
    .await
    .map_err(|e| super::conflict_on_unique(e, "an application with this uid already exists"))?;
    Ok(())
}

pub async fn get<D: Backend>(pool: &Pool<D>, id_or_uid: &str) -> Result<Option<App>> {
    let row =
        query::<D>("SELECT * FROM apps WHERE id = $1 OR uid = $1 ORDER BY id = $1 DESC LIMIT 1")
            .bind(id_or_uid)
            .fetch_optional(pool)
            .await?;
    row.map(|r| rows::app(&r).map(|(_, a)| a)).transpose()
}

pub async fn list<D: Backend>(
    pool: &Pool<D>,
    only: Option<&str>,
    page: PageReq,
) -> Result<Page<App>> {
    let mut qb = Sql::<D>::new("SELECT * FROM apps WHERE 1=1");
    if let Some(id) = only {
        qb.push(" AND id = ").push_bind(id.to_string());
    }
    push_page(&mut qb, &page);
    let r = qb.build().fetch_all(pool).await?;
    Ok(finish_page(rows::all(r, rows::app)?, page.limit))
}

pub async fn update<D: Backend>(w: &D::Writer, a: &App) -> Result<()> {
    query::<D>("UPDATE apps SET uid = $1, name = $2, metadata = $3, updated_at = $4 WHERE id = $5")
        .bind(&a.uid)
        .bind(&a.name)
        .bind(a.metadata.to_string())
        .bind(a.updated_at)
        .bind(&a.id)
        .execute(&mut *D::lock_writer(w).await?)
        .await
        .map_err(|e| super::conflict_on_unique(e, "an application with this uid already exists"))?;
    Ok(())
}

pub async fn delete<D: Backend>(w: &D::Writer, id: &str) -> Result<()> {
    let mut conn = D::lock_writer(w).await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    query::<D>(
        "UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL, lease_until = NULL
         WHERE app_id = $1 AND status = 'pending'",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    query::<D>("DELETE FROM endpoints WHERE app_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    query::<D>("DELETE FROM api_keys WHERE app_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let n = query::<D>("DELETE FROM apps WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if n == 0 {
        return Err(StoreError::NotFound("application"));
    }
    tx.commit().await?;
    Ok(())
}
