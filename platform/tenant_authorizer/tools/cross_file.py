"""Problems no single tenant file shows: the files checked together.

Duplicate tenant ids, one API bound by two tenants, two account-wide bindings of one
account, overlapping bindings within a file, an API pinned to some stages in an account
bound account-wide, and an account's SSM document over the size SSM accepts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from .documents import ADVANCED_TIER_MAX_BYTES, render_index
from .report import Problem, TenantFile


def _stages_overlap(a: Sequence[str] | None, b: Sequence[str] | None) -> bool:
    return a is None or b is None or bool(set(a) & set(b))


def cross_file_problems(files: Sequence[TenantFile]) -> list[Problem]:
    """Problems no single file shows: duplicate ids, contested APIs and accounts, overlaps."""
    problems: list[Problem] = []
    seen_ids: dict[str, str] = {}
    api_owner: dict[tuple[str, str], tuple[str, str]] = {}  # (account, api) -> (tenant, file)
    wide_owner: dict[str, tuple[str, str]] = {}  # account -> (tenant, file)
    for tenant in files:
        if tenant.config is None:
            continue
        cfg = tenant.config
        if cfg.tenant_id in seen_ids:
            problems.append(
                Problem(
                    tenant.display,
                    "tenant_id",
                    f"{cfg.tenant_id!r} is already used by {seen_ids[cfg.tenant_id]}",
                )
            )
            continue
        seen_ids[cfg.tenant_id] = tenant.display
        for index, binding in enumerate(cfg.bindings):
            where = f"bindings[{index}]"
            for other_index, other in enumerate(cfg.bindings[:index]):
                same_apis = (binding.api_ids is None and other.api_ids is None) or bool(
                    set(binding.api_ids or ()) & set(other.api_ids or ())
                )
                if (
                    other.account_id == binding.account_id
                    and same_apis
                    and _stages_overlap(binding.stages, other.stages)
                ):
                    problems.append(
                        Problem(
                            tenant.display,
                            where,
                            f"overlaps bindings[{other_index}] (same account, API and stage): "
                            "the later binding would never be used",
                        )
                    )
            if binding.api_ids is None:
                owner = wide_owner.setdefault(binding.account_id, (cfg.tenant_id, tenant.display))
                if owner[0] != cfg.tenant_id:
                    problems.append(
                        Problem(
                            tenant.display,
                            f"{where}.api_ids",
                            f"account {binding.account_id} is already bound account-wide by tenant "
                            f"{owner[0]!r} ({owner[1]}): list this tenant's api_ids",
                        )
                    )
                continue
            for api_index, api_id in enumerate(binding.api_ids):
                key = (binding.account_id, api_id)
                owner = api_owner.setdefault(key, (cfg.tenant_id, tenant.display))
                if owner[0] != cfg.tenant_id:
                    problems.append(
                        Problem(
                            tenant.display,
                            f"{where}.api_ids[{api_index}]",
                            f"API {binding.account_id}/{api_id} is already bound to tenant "
                            f"{owner[0]!r} ({owner[1]}): one API belongs to one tenant",
                        )
                    )
    problems.extend(_pinned_stage_problems(files))
    problems.extend(_region_problems(files))
    return problems


def _region_problems(files: Sequence[TenantFile]) -> Iterator[Problem]:
    """An API binding whose region is not that of its account's account-wide binding.

    An account bound account-wide gets one invoke statement, for every API of the
    account in that binding's region (Terraform's tenant-invoke-access): an API of
    another region could never call the authorizer.
    """
    wide: dict[str, tuple[str, str, str | None]] = {}
    for tenant in files:
        for index, binding in enumerate(tenant.config.bindings if tenant.config else ()):
            if binding.api_ids is None:
                wide.setdefault(
                    binding.account_id, (tenant.display, f"bindings[{index}]", binding.region)
                )
    for tenant in files:
        for index, binding in enumerate(tenant.config.bindings if tenant.config else ()):
            if binding.api_ids is None or binding.account_id not in wide:
                continue
            wide_file, wide_field, region = wide[binding.account_id]
            if binding.region != region:
                yield Problem(
                    tenant.display,
                    f"bindings[{index}].region",
                    f"{binding.region or 'the default region'} is not the region of the "
                    f"account-wide binding {wide_field} of {wide_file} "
                    f"({region or 'the default region'}), whose one invoke statement admits "
                    "every API of the account: name the same region",
                )


def _pinned_stage_problems(files: Sequence[TenantFile]) -> Iterator[Problem]:
    """An API pinned to some stages in an account that also has an account-wide binding.

    The runtime never hands an unlisted stage of a pinned API to the account-wide binding
    (it could belong to another tenant): those stages are not bound at all, which is
    rarely what the author of either file meant.
    """
    wide: dict[str, tuple[str, str]] = {}  # account -> (file, field) of its wide binding
    pinned: dict[tuple[str, str], list[tuple[str, str, tuple[str, ...] | None]]] = {}
    for tenant in files:
        bindings = tenant.config.bindings if tenant.config is not None else ()
        for index, binding in enumerate(bindings):
            if binding.api_ids is None:
                wide.setdefault(binding.account_id, (tenant.display, f"bindings[{index}]"))
                continue
            for api_id in binding.api_ids:
                pinned.setdefault((binding.account_id, api_id), []).append(
                    (tenant.display, f"bindings[{index}].stages", binding.stages)
                )
    for (account, api_id), entries in pinned.items():
        if account not in wide or any(stages is None for _, _, stages in entries):
            continue
        listed = sorted({s for _, _, stages in entries for s in stages or ()})
        wide_file, wide_field = wide[account]
        display, where, _ = entries[0]
        yield Problem(
            display,
            where,
            f"API {account}/{api_id} is bound for stages {', '.join(listed)} only, so its other "
            f"stages are not bound at all: the account-wide binding {wide_field} of "
            f"{wide_file} never covers an API that a binding names. List every stage the API "
            "serves, or omit stages",
        )


def size_problems(files: Sequence[TenantFile], documents: Mapping[str, str]) -> list[Problem]:
    """An account document over 8,192 bytes cannot be written: name every file bound to it."""
    problems: list[Problem] = []
    for account, document in documents.items():
        size = len(document.encode("utf-8"))
        if size <= ADVANCED_TIER_MAX_BYTES:
            continue
        for tenant in files:
            if tenant.config is None:
                continue
            for index, binding in enumerate(tenant.config.bindings):
                if binding.account_id == account:
                    problems.append(
                        Problem(
                            tenant.display,
                            f"bindings[{index}].account_id",
                            f"the SSM document of account {account} would be {size} bytes, over "
                            f"the {ADVANCED_TIER_MAX_BYTES}-byte limit: split the tenants of this "
                            "account or trim their configs",
                        )
                    )
                    break
    return problems


def index_problems(documents: Mapping[str, str], directory: str) -> list[Problem]:
    """A shard marker or group root over 8,192 bytes cannot be written (default layout)."""
    problems: list[Problem] = []
    for name, value in sorted(render_index(documents).items()):
        size = len(value.encode("utf-8"))
        if size > ADVANCED_TIER_MAX_BYTES:
            problems.append(
                Problem(
                    directory,
                    name,
                    f"this change-index parameter would be {size} bytes, over the "
                    f"{ADVANCED_TIER_MAX_BYTES}-byte limit: raise index_shard_count in "
                    "terraform/platform (decision 0019)",
                )
            )
    return problems
