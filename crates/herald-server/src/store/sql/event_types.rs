//! Event type rows.

use sqlx::Pool;

use super::query::{query, Sql};
use super::{finish_page, push_page, rows, Backend};
use crate::store::*;

pub async fn insert<D: Backend>(w: &D::Writer, t: &EventType) -> Result<()> {
    query::<D>(
        "INSERT INTO event_types (id, name, description, schema, archived, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&t.id)
    .bind(&t.name)
    .bind(&t.description)
    .bind(t.schema.as_ref().map(|s| s.to_string()))
    .bind(t.archived)
    .bind(t.created_at)
    .bind(t.updated_at)
    .execute(&mut *D::lock_writer(w).await?)
    .await
    .map_err(|e| super::conflict_on_unique(e, "an event type with this name already exists"))?;
    Ok(())
}

pub async fn get<D: Backend>(pool: &Pool<D>, name: &str) -> Result<Option<EventType>> {
    let row = query::<D>("SELECT * FROM event_types WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await?;
    row.map(|r| rows::event_type(&r).map(|(_, t)| t))
        .transpose()
}

pub async fn list<D: Backend>(pool: &Pool<D>, page: PageReq) -> Result<Page<EventType>> {
    let mut qb = Sql::<D>::new("SELECT * FROM event_types WHERE 1=1");
    push_page(&mut qb, &page);
    let r = qb.build().fetch_all(pool).await?;
    Ok(finish_page(rows::all(r, rows::event_type)?, page.limit))
}

pub async fn update<D: Backend>(w: &D::Writer, t: &EventType) -> Result<()> {
    query::<D>(
        "UPDATE event_types SET description = $1, schema = $2, archived = $3, updated_at = $4 WHERE name = $5",
    )
    .bind(&t.description)
    .bind(t.schema.as_ref().map(|s| s.to_string()))
    .bind(t.archived)
    .bind(t.updated_at)
    .bind(&t.name)
    .execute(&mut *D::lock_writer(w).await?)
    .await?;
    Ok(())
}

pub async fn delete<D: Backend>(w: &D::Writer, name: &str) -> Result<()> {
    let n = query::<D>("DELETE FROM event_types WHERE name = $1")
        .bind(name)
        .execute(&mut *D::lock_writer(w).await?)
        .await?;
    if n == 0 {
        return Err(StoreError::NotFound("event type"));
    }
    Ok(())
}
