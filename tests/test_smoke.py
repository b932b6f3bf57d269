def test_smoke(logged_in):
    c = logged_in.client
    r = c.get("/forms")
    assert r.status_code == 200, r.text
    for form_id in ["registration", "screening_consent", "attention_ledger", "individual_counseling"]:
        r = c.get(f"/forms/{form_id}/new")
        assert r.status_code == 200, r.text[:3000]
        r = c.get(f"/forms/{form_id}")
        assert r.status_code == 200, r.text[:3000]
