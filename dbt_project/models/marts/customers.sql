{#- The mart BI reads, under the contract in _marts__models.yml. The rows are built in
    int_customers__as_of, which intermediate models read too: layers read downwards only, so a fact
    the intermediate layer needs is defined there once. -#}

select * from {{ ref('int_customers__as_of') }}
