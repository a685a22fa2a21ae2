-- Today's call list: no name, phone or e-mail (the columns a snapshot without contact details
-- leaves out), so the page works either way; the agent looks the customer id up in the cart.
select
    priority_rank, customer_id, customer_segment, product_id, product_name, status,
    delivery_number, next_delivery_date, days_until_next_delivery, next_notice_date,
    days_until_next_notice, probability, risk_band, risk_band_ja, reasons_ja, suggested_actions_ja,
    is_phone_reachable, is_email_reachable, is_line_reachable, dm_opt_in,
    last_cancel_signal_date, last_inquiry_date, last_inquiry_category_label,
    customer_value_at_risk, score_method
from marts.high_risk_customers
order by priority_rank
