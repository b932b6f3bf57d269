"""The editor's condition picker: a condition's value is chosen from the tested field's options (a select), typed
only for a field that has none; the htmx fragment follows the chosen field; the edit's post shape is unchanged."""

from __future__ import annotations

import re

from test_form_editor import EDITOR, draft_of, edit


def value_control(html: str) -> str:
    return re.search(r'<span id="when-value-control">(.*?)</span>', html, re.S).group(1)


def test_a_conditions_value_is_chosen_from_the_fields_options(logged_in):
    world = logged_in
    cell = world.client.get(f"{EDITOR}?select=b0/r1/c5").text  # 观察安排's cell, no condition yet
    assert value_control(cell).startswith('<input id="when-value" name="when_value"')
    assert 'hx-get="/admin/forms/classroom_observation/condition-value"' in cell
    options = world.client.get(f"{EDITOR}/condition-value", params={"when_field": "reason"}, headers={"HX-Request": "true"})
    assert options.status_code == 200 and options.text.startswith('<select id="when-value" name="when_value">')
    assert '<option value="家长反映">家长反映</option>' in options.text
    column = world.client.get(f"{EDITOR}/condition-value", params={"when_field": "observations[].emotions", "when_value": "哭泣"})
    assert '<option value="哭泣" selected>哭泣</option>' in column.text  # a table column's multiple choice, the value kept
    free = world.client.get(f"{EDITOR}/condition-value", params={"when_field": "plan", "when_value": "x"})
    assert free.text.startswith('<input id="when-value" name="when_value" value="x"')
    # the same post as before; the saved condition shows as the chosen option
    saved = edit(world, "cell", place="b0/r1/c5", select="b0/r1/c5", when_field="reason", when_op="equals", when_value="家长反映")
    assert saved.status_code == 200, saved.text
    assert '<option value="家长反映" selected>家长反映</option>' in value_control(saved.text)
    assert draft_of(world).layout["blocks"][0]["rows"][1][5]["when"] == {"required": ["reason"], "properties": {"reason": {"const": "家长反映"}}}
    # a value that is not an option (an old page, no script) is refused and shown again as it was posted
    refused = edit(world, "cell", place="b0/r1/c5", select="b0/r1/c5", when_field="reason", when_op="equals", when_value="没有这个选项")
    assert "error-summary" in refused.text and '<option value="没有这个选项" selected>没有这个选项</option>' in value_control(refused.text)


def test_the_value_control_needs_the_editors_role(logged_in):
    world = logged_in
    world.client.post("/logout", data={"_csrf_token": world.csrf()})
    assert world.client.get(f"{EDITOR}/condition-value", params={"when_field": "reason"}, follow_redirects=False).status_code in (302, 303, 401, 403)
