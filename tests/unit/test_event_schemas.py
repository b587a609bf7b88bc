"""The event schemas (SPEC section 5) and the registry that validates messages against them."""

import json
import shutil
import uuid

import pytest

from ates.schemas import EVENT_SCHEMAS_DIR, SchemaError, SchemaRegistry, UnknownEventType, registry

CATALOGUE = [
    ("account.created", 1),
    ("account.deactivated", 1),
    ("account.role_changed", 1),
    ("account.updated", 1),
    ("billing_day.closed", 1),
    ("payout.sent", 1),
    ("task.assigned", 1),
    ("task.completed", 1),
    ("task.created", 1),
    ("task.created", 2),
    ("task.priced", 1),
    ("task.updated", 2),
    ("token.revoked", 1),
    ("transaction.applied", 1),
]
VERSIONS = registry().versions()
ENVELOPE = ["specversion", "id", "source", "type", "dataversion", "time", "datacontenttype", "data"]
MONEY_FIELDS = [
    ("task.priced", 1, "assign_fee"),
    ("task.priced", 1, "completion_reward"),
    ("transaction.applied", 1, "amount"),
    ("transaction.applied", 1, "balance_after"),
    ("payout.sent", 1, "amount"),
    ("billing_day.closed", 1, "total_paid"),
    ("billing_day.closed", 1, "management_income"),
]


def ids(params):
    return ["-".join(str(part) for part in p) for p in params]


def example(event_type, version, number=0):
    return registry().examples(event_type, version)[number]


def data_fields(event_type, version):
    return list(registry().schema(event_type, version)["properties"]["data"]["properties"])


def is_uuid(value):
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value
    except ValueError:
        return False


def is_nullable(field_schema):
    return "null" in field_schema.get("type", []) or {"type": "null"} in field_schema.get(
        "anyOf", []
    )


def assert_rejected(message, *words):
    with pytest.raises(SchemaError) as caught:
        registry().validate(message)
    assert not isinstance(caught.value, UnknownEventType)
    for word in words:
        assert word in str(caught.value)


DATA_FIELDS = [(t, v, f) for t, v in VERSIONS for f in data_fields(t, v)]
UUID_PATHS = [(t, v, "id") for t, v in VERSIONS] + [
    (t, v, f"data.{f}") for t, v, f in DATA_FIELDS if is_uuid(example(t, v)["data"][f])
]
TIME_PATHS = [(t, v, "time") for t, v in VERSIONS] + [
    (t, v, f"data.{f}") for t, v, f in DATA_FIELDS if f.endswith("_at") and example(t, v)["data"][f]
]
NULLABLE = [
    (t, v, f)
    for t, v, f in DATA_FIELDS
    if is_nullable(registry().schema(t, v)["properties"]["data"]["properties"][f])
]


def set_path(message, path, value):
    *parents, last = path.split(".")
    target = message
    for part in parents:
        target = target[part]
    target[last] = value
    return message


# --- the catalogue ---------------------------------------------------------------------------------


def test_versions_lists_exactly_the_catalogue():
    assert sorted(CATALOGUE) == VERSIONS


@pytest.mark.parametrize(
    "event_type, producer",
    [
        ("account.created", "auth"),
        ("account.role_changed", "auth"),
        ("account.deactivated", "auth"),
        ("task.created", "tracker"),
        ("task.updated", "tracker"),
        ("task.assigned", "tracker"),
        ("task.completed", "tracker"),
        ("task.priced", "accounting"),
        ("transaction.applied", "accounting"),
        ("payout.sent", "accounting"),
        ("billing_day.closed", "accounting"),
        ("token.revoked", "auth"),
    ],
)
def test_producer_of_names_the_service_that_publishes_the_event(event_type, producer):
    assert registry().producer_of(event_type) == producer


def test_producer_of_an_unknown_type_raises_unknown_event_type():
    with pytest.raises(UnknownEventType):
        registry().producer_of("task.exploded")


@pytest.mark.parametrize("event_type, version", VERSIONS, ids=ids(VERSIONS))
def test_every_schema_is_a_self_contained_2020_12_document_with_metadata(event_type, version):
    schema = registry().schema(event_type, version)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert (
        schema["$id"] == f"https://ates.uberpopug.example/event_schemas/{event_type}/{version}.json"
    )
    assert schema["title"] and schema["description"]
    refs = json.dumps(schema).split('"$ref": ')[1:]
    assert all(ref.startswith('"#/$defs/') for ref in refs), (
        "a published schema must not depend on another file"
    )


@pytest.mark.parametrize("event_type, version", VERSIONS, ids=ids(VERSIONS))
def test_every_example_of_every_schema_is_valid(event_type, version):
    examples = registry().examples(event_type, version)
    assert examples
    for message in examples:
        registry().validate(message)


@pytest.mark.parametrize("event_type, version, field", NULLABLE, ids=ids(NULLABLE))
def test_every_nullable_field_is_shown_as_null_in_an_example(event_type, version, field):
    assert any(m["data"][field] is None for m in registry().examples(event_type, version))


def test_exactly_the_fields_the_spec_names_are_nullable():
    assert sorted((t, f) for t, _, f in NULLABLE) == sorted(
        [
            ("task.created", "jira_id"),
            ("task.created", "completed_at"),
            ("task.updated", "jira_id"),
            ("task.updated", "completed_at"),
            ("task.assigned", "previous_assignee_id"),
            ("task.assigned", "reassignment_id"),
            ("transaction.applied", "task_id"),
        ]
    )


# --- broken copies of every schema's first example -------------------------------------------------


@pytest.mark.parametrize("event_type, version, field", DATA_FIELDS, ids=ids(DATA_FIELDS))
def test_a_message_missing_a_data_field_is_rejected_even_when_it_could_be_null(
    event_type, version, field
):
    message = example(event_type, version)
    del message["data"][field]
    assert_rejected(message, f"'{field}' is a required property")


@pytest.mark.parametrize("event_type, version, field", DATA_FIELDS, ids=ids(DATA_FIELDS))
def test_a_data_field_of_the_wrong_type_is_rejected(event_type, version, field):
    message = example(event_type, version)
    value = message["data"][field]
    message["data"][field] = {str: 123, bool: "yes", int: "1", type(None): 123}[type(value)]
    assert_rejected(message, f"data.{field}:")


@pytest.mark.parametrize("field", ENVELOPE)
@pytest.mark.parametrize("event_type, version", VERSIONS, ids=ids(VERSIONS))
def test_a_message_missing_an_envelope_field_is_rejected(event_type, version, field):
    message = example(event_type, version)
    del message[field]
    with pytest.raises(SchemaError):
        registry().validate(message)


@pytest.mark.parametrize("event_type, version", VERSIONS, ids=ids(VERSIONS))
def test_another_cloudevents_specversion_is_rejected(event_type, version):
    assert_rejected({**example(event_type, version), "specversion": "0.3"}, "specversion:")


@pytest.mark.parametrize("event_type, version", VERSIONS, ids=ids(VERSIONS))
def test_an_unknown_field_in_data_is_rejected(event_type, version):
    message = example(event_type, version)
    message["data"]["colour"] = "green"
    assert_rejected(message, "data:", "'colour' was unexpected")


@pytest.mark.parametrize("event_type, version", VERSIONS, ids=ids(VERSIONS))
def test_an_unknown_top_level_field_is_rejected(event_type, version):
    assert_rejected(
        {**example(event_type, version), "colour": "green"}, "message:", "'colour' was unexpected"
    )


@pytest.mark.parametrize("event_type, version", VERSIONS, ids=ids(VERSIONS))
def test_another_producer_as_source_is_rejected(event_type, version):
    assert_rejected({**example(event_type, version), "source": "/gateway"}, "source:")


@pytest.mark.parametrize("event_type, version", VERSIONS, ids=ids(VERSIONS))
def test_a_correlation_id_is_allowed_but_not_required_and_never_empty(event_type, version):
    message = example(event_type, version)
    message.pop("correlationid", None)
    registry().validate(message)
    registry().validate({**message, "correlationid": "req-1"})
    assert_rejected({**message, "correlationid": ""}, "correlationid:")
    assert_rejected({**message, "correlationid": "x" * 201}, "correlationid:")


# --- money, times, ids -----------------------------------------------------------------------------


@pytest.mark.parametrize("event_type, version, field", MONEY_FIELDS, ids=ids(MONEY_FIELDS))
@pytest.mark.parametrize(
    "bad", ["float", "12.500", "12", "12.5", "012.00", "1,000.00", "$12.00", "12.00\n"]
)
def test_money_is_only_a_string_with_two_decimals(event_type, version, field, bad):
    message = example(event_type, version)
    value = message["data"][field]
    message["data"][field] = (
        float(value) if bad == "float" else ("-" + bad if value.startswith("-") else bad)
    )
    assert_rejected(message, f"data.{field}:")


def test_money_as_a_float_is_rejected_with_a_readable_reason():
    assert_rejected(
        set_path(example("task.priced", 1), "data.assign_fee", 12.5),
        "data.assign_fee: 12.5 is not of type 'string'",
    )
    assert_rejected(
        set_path(example("transaction.applied", 1), "data.amount", -12.0),
        "data.amount: -12.0 is not of type 'string'",
    )


@pytest.mark.parametrize("event_type, version, path", TIME_PATHS, ids=ids(TIME_PATHS))
@pytest.mark.parametrize(
    "bad",
    [
        "2026-03-01T10:15:00",
        "2026-03-01T10:15:00+03:00",
        "2026-03-01T10:15:00-00:30",
        "2026-03-01 10:15:00Z",
        "2026-03-01T10:15:00z",
        "2026-02-30T10:15:00Z",
        "2026-03-01",
        "1772360100",
        "2026-03-01T10:15:00Z\n",
    ],
)
def test_a_time_that_is_not_rfc3339_utc_is_rejected(event_type, version, path, bad):
    assert_rejected(set_path(example(event_type, version), path, bad), f"{path}:")


@pytest.mark.parametrize(
    "good", ["2026-03-01T10:15:00Z", "2026-03-01T10:15:00+00:00", "2026-03-01T10:15:00.123456Z"]
)
def test_utc_times_with_z_or_zero_offset_and_fractions_are_accepted(good):
    registry().validate(set_path(example("task.completed", 1), "data.completed_at", good))
    registry().validate(set_path(example("task.completed", 1), "time", good))


@pytest.mark.parametrize("event_type, version, path", UUID_PATHS, ids=ids(UUID_PATHS))
@pytest.mark.parametrize(
    "bad",
    [
        "not-a-uuid",
        "3f8d2c715a4e4b9c8e1d6a0f7b2c9d34",
        "3f8d2c71-5a4e-4b9c-8e1d-6a0f7b2c9d3",
        "{3f8d2c71-5a4e-4b9c-8e1d-6a0f7b2c9d34}",
        "",
    ],
)
def test_a_malformed_uuid_is_rejected(event_type, version, path, bad):
    assert_rejected(set_path(example(event_type, version), path, bad), f"{path}:")


@pytest.mark.parametrize(
    "bad", ["2026-3-1", "01.03.2026", "20260301", "2026-02-30", "2026-03-01T00:00:00Z"]
)
def test_a_billing_date_that_is_not_a_calendar_day_is_rejected(bad):
    assert_rejected(
        set_path(example("payout.sent", 1), "data.billing_date", bad), "data.billing_date:"
    )
    assert_rejected(
        set_path(example("billing_day.closed", 1), "data.billing_date", bad), "data.billing_date:"
    )


# --- tasks -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", ["task.created", "task.updated"])
@pytest.mark.parametrize("title", ["[UBERPOP-42] — Change the green", "Change the green]", "[", ""])
def test_task_v2_rejects_a_title_with_brackets_or_empty(event_type, title):
    assert_rejected(set_path(example(event_type, 2), "data.title", title), "data.title:")


def test_task_v2_titles_are_at_most_200_characters():
    registry().validate(set_path(example("task.created", 2), "data.title", "x" * 200))
    assert_rejected(set_path(example("task.created", 2), "data.title", "x" * 201), "data.title:")


@pytest.mark.parametrize("event_type", ["task.created", "task.updated"])
def test_task_v2_accepts_a_task_without_jira_id_as_null(event_type):
    registry().validate(set_path(example(event_type, 2), "data.jira_id", None))


@pytest.mark.parametrize(
    "jira_id",
    ["uberpop-42", "UBERPOP42", "UBERPOP-", "42-UBERPOP", "[UBERPOP-42]", "UBERPOP-42\n", ""],
)
def test_task_v2_rejects_a_malformed_jira_id(jira_id):
    assert_rejected(set_path(example("task.created", 2), "data.jira_id", jira_id), "data.jira_id:")


def test_task_created_v1_accepts_the_jira_id_inside_the_title():
    message = set_path(example("task.created", 1), "data.title", "[UBERPOP-42] — Change the green")
    registry().validate(message)
    assert_rejected(set_path(message, "data.title", ""), "data.title:")


def test_a_task_description_is_at_most_10000_characters_and_may_be_empty():
    registry().validate(set_path(example("task.created", 2), "data.description", ""))
    registry().validate(set_path(example("task.created", 2), "data.description", "x" * 10000))
    assert_rejected(
        set_path(example("task.created", 2), "data.description", "x" * 10001), "is too long"
    )


@pytest.mark.parametrize(
    "event_type, version", [("task.created", 1), ("task.created", 2), ("task.updated", 2)]
)
def test_a_task_status_is_open_or_done(event_type, version):
    registry().validate(set_path(example(event_type, version), "data.status", "done"))
    assert_rejected(set_path(example(event_type, version), "data.status", "closed"), "data.status:")


def test_task_completed_needs_a_completion_time():
    assert_rejected(
        set_path(example("task.completed", 1), "data.completed_at", None), "data.completed_at:"
    )


# --- accounts and accounting -----------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "manager", "accountant", "boss", "developer"])
def test_every_role_of_the_spec_is_accepted(role):
    registry().validate(set_path(example("account.created", 1), "data.role", role))
    registry().validate(set_path(example("account.role_changed", 1), "data.previous_role", role))


@pytest.mark.parametrize(
    "path, value",
    [
        ("data.role", "popug"),
        ("data.email", "kesha"),
        ("data.username", ""),
        ("data.username", "k" * 65),
        ("data.full_name", "f" * 201),
        ("data.version", 0),
        ("data.active", 1),
    ],
)
def test_an_account_snapshot_with_a_bad_value_is_rejected(path, value):
    assert_rejected(set_path(example("account.created", 1), path, value), f"{path}:")


def test_an_account_may_have_an_empty_full_name():
    registry().validate(set_path(example("account.updated", 1), "data.full_name", ""))


@pytest.mark.parametrize(
    "kind, amount, task_id, valid",
    [
        ("assign_fee", "-12.00", "3f8d2c71-5a4e-4b9c-8e1d-6a0f7b2c9d34", True),
        ("completion_reward", "31.00", "3f8d2c71-5a4e-4b9c-8e1d-6a0f7b2c9d34", True),
        ("payout", "-19.00", None, True),
        ("assign_fee", "12.00", "3f8d2c71-5a4e-4b9c-8e1d-6a0f7b2c9d34", False),
        ("completion_reward", "-31.00", "3f8d2c71-5a4e-4b9c-8e1d-6a0f7b2c9d34", False),
        ("payout", "19.00", None, False),
        ("payout", "-19.00", "3f8d2c71-5a4e-4b9c-8e1d-6a0f7b2c9d34", False),
        ("assign_fee", "-12.00", None, False),
        ("refund", "-12.00", "3f8d2c71-5a4e-4b9c-8e1d-6a0f7b2c9d34", False),
    ],
)
def test_a_transaction_amount_sign_and_task_follow_its_kind(kind, amount, task_id, valid):
    message = example("transaction.applied", 1)
    message["data"].update(kind=kind, amount=amount, task_id=task_id)
    if valid:
        registry().validate(message)
    else:
        assert_rejected(message, "data")


@pytest.mark.parametrize("balance", ["-3.50", "0.00", "1234.56"])
def test_a_balance_after_may_be_negative_zero_or_positive(balance):
    registry().validate(set_path(example("transaction.applied", 1), "data.balance_after", balance))


@pytest.mark.parametrize(
    "event_type, field",
    [
        ("task.priced", "assign_fee"),
        ("task.priced", "completion_reward"),
        ("payout.sent", "amount"),
    ],
)
@pytest.mark.parametrize("amount", ["0.00", "-12.00"])
def test_prices_and_payouts_are_positive(event_type, field, amount):
    assert_rejected(set_path(example(event_type, 1), f"data.{field}", amount), f"data.{field}:")


def test_a_billing_day_closes_with_a_count_of_payouts_and_a_signed_income():
    message = example("billing_day.closed", 1)
    message["data"].update(payouts=0, total_paid="0.00", management_income="-14.00")
    registry().validate(message)
    assert_rejected(set_path(example("billing_day.closed", 1), "data.payouts", -1), "data.payouts:")
    assert_rejected(
        set_path(example("billing_day.closed", 1), "data.total_paid", "-1.00"), "data.total_paid:"
    )


# --- the registry itself ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event_type, version", [("task.exploded", 1), ("task.created", 3), ("task.completed", 2)]
)
def test_an_unknown_type_or_version_raises_unknown_event_type(event_type, version):
    message = {**example("task.completed", 1), "type": event_type, "dataversion": version}
    with pytest.raises(UnknownEventType, match=f"{event_type} v{version}"):
        registry().validate(message)
    with pytest.raises(UnknownEventType):
        registry().schema(event_type, version)


@pytest.mark.parametrize("message", [None, [], "task.completed", 42, b"{}"])
def test_a_message_that_is_not_an_object_raises_schema_error(message):
    assert_rejected(message, "message:")


@pytest.mark.parametrize(
    "change",
    [
        {"type": None},
        {"type": 7},
        {"dataversion": None},
        {"dataversion": "1"},
        {"dataversion": 1.0},
        {"dataversion": True},
    ],
)
def test_a_message_without_a_usable_type_and_dataversion_raises_schema_error(change):
    assert_rejected({**example("task.completed", 1), **change}, "message:")


def test_examples_and_schemas_are_copies_that_callers_may_change():
    registry().examples("task.completed", 1)[0]["data"].clear()
    registry().schema("task.completed", 1)["properties"].clear()
    registry().validate(example("task.completed", 1))


def test_registry_is_loaded_once():
    assert registry() is registry()


@pytest.fixture
def schemas_copy(tmp_path):
    return shutil.copytree(EVENT_SCHEMAS_DIR, tmp_path / "event_schemas")


def rewrite(path, change):
    schema = json.loads(path.read_text())
    change(schema)
    path.write_text(json.dumps(schema))


def test_a_schema_file_whose_path_does_not_match_its_type_is_refused(schemas_copy):
    shutil.copytree(schemas_copy / "task.completed", schemas_copy / "task.finished")
    with pytest.raises(SchemaError, match="task.finished/1.json"):
        SchemaRegistry(schemas_copy)


def test_a_schema_file_whose_name_does_not_match_its_dataversion_is_refused(schemas_copy):
    shutil.copy(
        schemas_copy / "task.completed" / "1.json", schemas_copy / "task.completed" / "2.json"
    )
    with pytest.raises(SchemaError, match="task.completed/2.json"):
        SchemaRegistry(schemas_copy)


def test_an_invalid_json_schema_is_refused(schemas_copy):
    rewrite(schemas_copy / "task.completed" / "1.json", lambda s: s.update(required="data"))
    with pytest.raises(SchemaError, match="not a JSON Schema 2020-12 document"):
        SchemaRegistry(schemas_copy)


def test_a_schema_whose_example_is_invalid_is_refused(schemas_copy):
    rewrite(
        schemas_copy / "task.completed" / "1.json",
        lambda s: s["examples"][0]["data"].pop("task_id"),
    )
    with pytest.raises(SchemaError, match="example 1 is invalid"):
        SchemaRegistry(schemas_copy)


def test_a_missing_schema_directory_is_refused(tmp_path):
    with pytest.raises(SchemaError, match="no such directory"):
        SchemaRegistry(tmp_path / "nowhere")


def test_a_schema_without_examples_is_refused(schemas_copy):
    rewrite(schemas_copy / "task.completed" / "1.json", lambda s: s.pop("examples"))
    with pytest.raises(SchemaError, match="has no examples"):
        SchemaRegistry(schemas_copy)
