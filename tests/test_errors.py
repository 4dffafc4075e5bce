"""The error hierarchy: one envelope, a stable and unique code per class, every class documented."""

from __future__ import annotations

import pytest

import dataex.errors as errors


def all_errors() -> list[type[errors.DataexError]]:
    found: list[type[errors.DataexError]] = []
    todo: list[type[errors.DataexError]] = [errors.DataexError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_codes_are_unique_and_every_class_is_documented() -> None:
    classes = [c for c in all_errors() if c.__module__ == errors.__name__]
    codes = [c.code for c in classes]
    assert len(codes) == len(set(codes)), sorted(c for c in codes if codes.count(c) > 1)
    for cls in classes:
        assert cls.__doc__ and cls.__doc__.strip(), cls
        assert 400 <= cls.status < 600 or cls is errors.DataexError
        assert cls.__name__ in errors.__doc__ or cls.__name__ == "DataexError", (
            f"{cls.__name__} not in the tree"
        )


def test_the_envelope_is_pinned() -> None:
    e = errors.DatasetNotFound("ds_x")
    assert e.to_dict() == {
        "ok": False,
        "error": "no dataset with id 'ds_x' (list them with `dataex datasets list`)",
        "code": "dataset_not_found",
        "status": 404,
        "details": {"dataset_id": "ds_x"},
    }


def test_every_error_is_reachable_from_the_package_and_the_sdk_raises_the_same_classes() -> None:
    import dataex
    import dataex.sdk

    for cls in all_errors():
        if cls.__module__ == errors.__name__:
            assert getattr(dataex, cls.__name__) is cls
    for name in ("NodeUnreachable", "BadResponse", "IncompatibleNode", "WaitTimeout", "ContractNotApproved"):
        assert getattr(dataex.sdk, name) is getattr(errors, name)
    assert issubclass(errors.ContractNotApproved, errors.Conflict)
    with pytest.raises(AttributeError, match="NoSuchThing"):
        dataex.NoSuchThing  # noqa: B018
