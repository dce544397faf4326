"""``tenant-authz validate``: every tenant file, one by one and together, and the documents.

Each file is checked on its own (:mod:`.tenant_file`: YAML as Terraform reads it, the
schema, the runtime's parser), then the files together (:mod:`.cross_file`), then the
per-account SSM documents are rendered (:mod:`.documents`) and read back by the
runtime's own reader; with ``--check-secrets`` each HS* secret is read where it lives
and checked as the runtime checks it. Every problem reads ``file: field: reason``; all
are collected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from ..runtime.errors import ConfigError
from . import aliases
from .aliases import DEFAULT_ALIAS_COUNT
from .cross_file import cross_file_problems, index_problems, size_problems
from .documents import render_account_documents
from .report import Problem, Report, TenantFile, file_display
from .schema import load_schema
from .tenant_file import DEFAULT_SSM_PREFIX, check_file


def collect_files(paths: Iterable[Path]) -> tuple[list[Path], list[Problem]]:
    """Tenant files named by ``paths`` (files, or directories holding ``*.yaml``)."""
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.glob("*.yaml")))
            for stray in sorted(path.glob("*.yml")):
                problems.append(
                    Problem(
                        file_display(stray),
                        "(file)",
                        "rename it to .yaml: Terraform reads *.yaml only",
                    )
                )
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(str(path), "(file)", "does not exist"))
    unique = sorted({p.resolve(): p for p in files}.values(), key=str)
    return unique, problems


SecretReader = Callable[[str], bytes | None]


def secret_problems(files: Sequence[TenantFile], read: SecretReader) -> Iterator[Problem]:
    """Each HS* issuer's secret, read where it lives, checked as the runtime checks it.

    ``read`` returns the secret of a parameter name, or None when there is none; it may
    raise :class:`~tenant_authorizer.runtime.registry.SourceUnavailable`.
    """
    from ..runtime.verification import hmac_secret_problem  # noqa: PLC0415 - pulls the runtime in

    for tenant in files:
        if tenant.config is None:
            continue
        for index, issuer in enumerate(tenant.config.issuers):
            names = {
                field: getattr(issuer, field)
                for field in ("hmac_secret_parameter", "hmac_previous_secret_parameter")
            }
            if issuer.introspection is not None:
                client_secret = issuer.introspection.client_secret_parameter
                names["introspection.client_secret_parameter"] = client_secret
            for field, name in names.items():
                if name is None:
                    continue
                where = f"issuers[{index}].{field}"
                secret = read(name)
                if secret is None:
                    yield Problem(
                        tenant.display,
                        where,
                        f"{name} does not exist: write it with aws ssm put-parameter "
                        "--type SecureString (docs/onboarding.md)",
                    )
                    continue
                if field.startswith("introspection."):
                    if not secret.strip():
                        yield Problem(tenant.display, where, f"{name}: the secret is empty")
                    continue
                for alg in issuer.algorithms:
                    problem = hmac_secret_problem(secret, alg)
                    if problem is not None:
                        yield Problem(tenant.display, where, f"{name}: {problem}")
                        break


def validate(
    paths: Iterable[Path],
    *,
    ssm_prefix: str = DEFAULT_SSM_PREFIX,
    production: bool = False,
    secrets: SecretReader | None = None,
    alias_count: int = DEFAULT_ALIAS_COUNT,
    check_aliases: bool = True,
) -> Report:
    """Validate tenant files and directories; collect every problem of every file.

    ``secrets`` reads HS* secrets (from SSM with ``--check-secrets``); without it their
    length and form are checked at run time only (``secret_invalid``). With a directory,
    its ``aliases.json`` must give every bound account an alias (``check_aliases``).
    """
    report = Report()
    paths = list(paths)
    files, problems = collect_files(paths)
    report.problems.extend(problems)
    schema = load_schema()
    for path in files:
        tenant, file_problems = check_file(
            path, schema=schema, ssm_prefix=ssm_prefix, production=production
        )
        report.files.append(tenant)
        report.problems.extend(file_problems)
    report.problems.extend(cross_file_problems(report.files))
    valid = [f for f in report.files if f.config is not None]
    unique: dict[str, TenantFile] = {}
    for tenant in valid:
        unique.setdefault(tenant.data["tenant_id"], tenant)
    report.accounts = bound_accounts(unique.values())
    directory = next((p for p in paths if p.is_dir()), None)
    if directory is not None:  # Terraform reads the assignment from the tenant directory
        report.aliases, alias_problems = aliases.load(directory)
        if check_aliases:
            report.problems.extend(alias_problems)
        if check_aliases and not alias_problems:
            files_of = {
                binding.account_id: t.display
                for t in reversed(list(unique.values()))
                for binding in (t.config.bindings if t.config is not None else ())
            }
            report.problems.extend(
                aliases.problems(
                    report.aliases,
                    report.accounts,
                    files_of,
                    directory=directory,
                    alias_count=alias_count,
                )
            )
    known = {a: report.aliases[a] for a in report.accounts if a in report.aliases}
    if len(known) == len(report.accounts):
        report.documents = render_account_documents([t.raw for t in unique.values()], known)
    else:  # some account has no alias (a problem already): document by the default hash
        report.documents = render_account_documents([t.raw for t in unique.values()])
    report.problems.extend(size_problems(list(unique.values()), report.documents))
    if directory is not None:
        report.problems.extend(index_problems(report.documents, str(directory)))
    report.problems.extend(_runtime_problems(report.documents))
    if secrets is not None:
        report.problems.extend(secret_problems(list(unique.values()), secrets))
    return report


def bound_accounts(files: Iterable[TenantFile]) -> dict[str, tuple[str, ...] | None]:
    """Every bound account and the API ids its invoke permission covers (None: every API)."""
    accounts: dict[str, tuple[str, ...] | None] = {}
    wide: set[str] = set()
    for tenant in files:
        for binding in tenant.config.bindings if tenant.config is not None else ():
            account = binding.account_id
            if binding.api_ids is None:
                wide.add(account)
            previous = accounts.get(account) or ()
            accounts[account] = tuple(sorted({*previous, *(binding.api_ids or ())}))
    return {a: None if a in wide else ids for a, ids in accounts.items()}


def _runtime_problems(documents: Mapping[str, str]) -> Iterator[Problem]:
    # Last line of defence: the runtime's own reader must accept every rendered document.
    from ..runtime.account import parse_account_document  # noqa: PLC0415 - pulls the runtime in

    for account, document in documents.items():
        source = f"{{prefix}}/accounts/{account}"
        try:
            parse_account_document(document, source, account)
        except ConfigError as exc:
            yield Problem(
                exc.source, exc.field, f"the runtime rejects the rendered document: {exc.reason}"
            )
