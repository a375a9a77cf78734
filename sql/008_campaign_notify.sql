-- Wakes every contactd instance's campaign runner (each LISTENs on contactd_campaigns) the
-- moment a campaign is created or changes state, from whichever process did it: the CLI, the
-- 301 short code, another instance. Without it a runner sees the change only at its next
-- routine look, and the first line of a new campaign stays idle until then.
CREATE FUNCTION contactd_campaign_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('contactd_campaigns', NEW.id::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER campaigns_changed AFTER INSERT OR UPDATE OF state ON campaigns
    FOR EACH ROW EXECUTE FUNCTION contactd_campaign_changed();
