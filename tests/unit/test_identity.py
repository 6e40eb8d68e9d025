from hub.domain.identity import PHONE, PHONE_UNPARSED, customer_key_for, normalize_email, strongest
from hub.domain.outcome import CustomerRef
from hub.services.identity import identifiers_for, mask_email, mask_phone, normalize_phone


def test_national_and_international_formats_are_the_same_customer():
    national = normalize_phone("(415) 555-0100", "US")
    international = normalize_phone("+1 415-555-0100", "US")
    assert national.kind == international.kind == PHONE
    assert national.value == international.value == "+14155550100"
    assert customer_key_for(national) == customer_key_for(international)


def test_region_hint_parses_a_national_number_of_another_country():
    assert normalize_phone("020 7946 0018", "GB").value == "+442079460018"


def test_unparseable_phone_is_kept_raw_and_flagged_never_guessed():
    for raw in ("call me maybe", "12", "+1 415"):
        identifier = normalize_phone(raw, "US")
        assert identifier.kind == PHONE_UNPARSED
        assert identifier.raw == raw
        assert not identifier.valid
        assert not identifier.strong


def test_email_is_case_folded_and_raw_kept():
    identifier = normalize_email("  Jane.Doe@Example.COM ")
    assert identifier.value == "jane.doe@example.com"
    assert identifier.raw == "  Jane.Doe@Example.COM "
    assert identifier.strong
    assert not normalize_email("not-an-email").strong


def test_identifiers_keep_external_ids_and_rank_them_strongest():
    found = identifiers_for(
        CustomerRef(phone="415 555 0100", email="a@b.co", external_ids={"zendesk_user": "123"}), "US"
    )
    assert {(i.kind, i.value) for i in found} == {
        ("phone", "+14155550100"),
        ("email", "a@b.co"),
        ("ext:zendesk_user", "123"),
    }
    assert strongest(found).kind == "ext:zendesk_user"


def test_event_region_overrides_default_region():
    [identifier] = identifiers_for(CustomerRef(phone="06 12 34 56 78", region="FR"), "US")
    assert identifier.value == "+33612345678"


def test_masking_for_logs_hides_the_middle():
    assert mask_phone("+14155550100") == "+1***00"
    assert "555" not in mask_phone("+14155550100")
    assert mask_email("jane@example.com") == "j***@example.com"
