{#- One row per campaign of the action ledger (team notifications left out): treatment against
    holdout on each customer's first contact. macros/campaign_effect_summary.sql holds the
    statistics, shared with campaign_effects_by_cohort. -#}

{{ campaign_effect_summary() }}
