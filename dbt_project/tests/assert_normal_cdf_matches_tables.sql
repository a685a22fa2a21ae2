{#- macros/normal_cdf.sql against tabulated values of the standard normal CDF (to 1e-9): the
    approximation's bound is 7.5e-8, so any row beyond 1e-7 is a wrong coefficient or sign. -#}
with

known (x, phi) as (

    values
        (0.0, 0.5),
        (0.5, 0.691462461),
        (1.0, 0.841344746),
        (-1.0, 0.158655254),
        (1.644853627, 0.95),
        (1.959963985, 0.975),
        (-1.959963985, 0.025),
        (2.326347874, 0.99),
        (3.0, 0.998650102),
        (-3.0, 0.001349898),
        (5.0, 0.999999713)

)

select x, phi, {{ normal_cdf('x') }} as approximation
from known
where abs({{ normal_cdf('x') }} - phi) > 1e-7
