{#- One row per campaign and send month (JST month of the customer's first contact):
    campaign_effects per cohort, so a campaign whose copy or audience changed can be compared
    month by month. -#}

{{ campaign_effect_summary(by=['send_month']) }}
