-- When the snapshot was published and the business date (JST) its marts are computed at.
select published_at, as_of_date from meta.published
