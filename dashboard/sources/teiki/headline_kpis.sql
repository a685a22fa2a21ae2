select * from marts.headline_kpis
