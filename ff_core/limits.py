"""Limits on what can be stored. Each is enforced with a message naming the field and the limit."""

from typing import Final

FLAG_KEY_PATTERN: Final = r"^[a-z0-9][a-z0-9._-]{0,127}$"
PROJECT_KEY_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]{0,63}$"
ENVIRONMENT_KEY_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]{0,63}$"
VARIANT_KEY_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
ATTRIBUTE_PATTERN: Final = r"^[$A-Za-z_][A-Za-z0-9_.:-]{0,127}$"
# Tenant ids come from the consuming app (slugs, UUIDs, e-mail-like ids).
TENANT_KEY_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"

MAX_ENVIRONMENTS: Final = 20
MAX_VARIANTS: Final = 64
MAX_RULES_PER_ENVIRONMENT: Final = 100
MAX_CLAUSES_PER_RULE: Final = 32
MAX_VALUES_PER_CLAUSE: Final = 1_000
MAX_CLAUSE_VALUE_LENGTH: Final = 1_024
MAX_TARGETS_PER_ENVIRONMENT: Final = 64
MAX_VALUES_PER_TARGET: Final = 10_000
MAX_PREREQUISITES: Final = 16
MAX_PREREQUISITE_DEPTH: Final = 16
# Flag evaluations one evaluation may cause through prerequisites, shared ones counted
# each time: depth alone would let a diamond-shaped graph cost 16^16.
MAX_PREREQUISITE_EVALUATIONS: Final = 256
MAX_SEGMENT_KEYS: Final = 10_000
MAX_SEGMENT_RULES: Final = 100
MAX_TAGS: Final = 32
MAX_NAME_LENGTH: Final = 200
MAX_DESCRIPTION_LENGTH: Final = 4_000
MAX_NOTE_LENGTH: Final = 2_000
MAX_REGEX_LENGTH: Final = 256
# Attribute strings longer than this never match `matches`: bounds regex cost per evaluation.
MAX_MATCHED_STRING_LENGTH: Final = 4_096
# `matches` values in one environment's rules, or in one segment's: RE2 is linear in the
# input, so this and the length above bound a flag's regex time (~2.5 ms at worst).
MAX_REGEXES: Final = 100
# Rollout weights are thousandths of a percent.
ROLLOUT_TOTAL: Final = 100_000
# A flag item's JSON. A history entry holds the old and the new flag, so two of
# these plus metadata stay well under DynamoDB's 400 KB item limit.
MAX_FLAG_BYTES: Final = 150_000
# A tenant item holds a variant per registry flag and environment (~50 bytes each).
MAX_TENANT_BYTES: Final = 150_000
MAX_SEGMENT_BYTES: Final = 150_000
