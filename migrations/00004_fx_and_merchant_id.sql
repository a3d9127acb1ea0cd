-- +goose Up
-- Contract revision 2: the original amount and currency of a foreign-currency
-- card payment, and the merchant's identifier. Nullable: rows from older
-- producers (and domestic payments) leave them NULL.
ALTER TABLE raw_transactions
    ADD COLUMN original_amount   numeric CONSTRAINT original_amount_positive_2dp CHECK (
                                     original_amount > 0 AND original_amount < 1000000000000 AND scale(original_amount) <= 2),
    ADD COLUMN original_currency char(3) CONSTRAINT original_currency_iso4217 CHECK (original_currency ~ '^[A-Z]{3}$'),
    ADD COLUMN merchant_id       text    CONSTRAINT merchant_id_length CHECK (length(merchant_id) BETWEEN 1 AND 64),
    ADD CONSTRAINT original_amount_with_currency CHECK ((original_amount IS NULL) = (original_currency IS NULL));

-- +goose Down
ALTER TABLE raw_transactions
    DROP CONSTRAINT original_amount_with_currency,
    DROP COLUMN merchant_id,
    DROP COLUMN original_currency,
    DROP COLUMN original_amount;
