# LocalStack in host mode (no Docker), for the second emulator lane of
# tests/run. Sourced after lib.sh, not executed.
#
# DRCTL_LOCALSTACK_VENV: where LocalStack's venv lives (default
# tests/emulator/.venv-localstack). It is created when missing or when the
# pinned version below changed since it was built.
#
# Why this recipe: LocalStack releases after 4.4 need Python >= 3.13 to run
# outside Docker, and an unpinned dependency resolution of 4.4.0 picks
# releases that break it; `--exclude-newer` resolves as of the date 4.4.0
# was current. uv does that resolution (pip cannot), so it is installed
# first into a small tools venv of its own.

LOCALSTACK_VERSION="4.4.0"

# The LocalStack lane: the provider tests and the end-to-end test of the
# stack without databases and functions; not RDS, DynamoDB and Lambda,
# which LocalStack does not serve offline (EmulatorKind::serves says the same
# to the harness), nor the CLI and fault tests, which check drctl rather
# than an emulator and run in the moto lane.
LOCALSTACK_TESTS=(
    providers::
    e2e::without_databases_and_functions
    --skip providers::rds::
    --skip providers::dynamodb::
    --skip providers::iam_lambda::function
    # Creates a Lambda function too (LocalStack needs Docker to run one).
    --skip providers::iam_lambda::a_refresh_never_copies_variables_set_outside_drctl
    # Lists a DynamoDB table and an RDS subnet group among others.
    --skip providers::a_list_passes_over_what_is_deleted_while_it_reads
    --skip providers::acm::
    --skip providers::backup::
    # Tests of an AWS rule that only tests/emulator/ext_*.py adds to moto
    # (LocalStack's extensions do not carry it): the rule would not refuse.
    --skip providers::a_nat_gateway_that_aws_fails_is_an_error_with_its_reason
    --skip providers::moving_a_subnet_to_another_route_table_replaces_its_association
    --skip providers::apigateway::a_deployment_follows_every_method_of_its_api
    --skip providers::apigateway::rest_api_deletes_take_turns_under_the_accounts_quota
    --skip providers::route53::record_changes_return_once_insync
)
LOCALSTACK_EXCLUDE_NEWER="2025-06-01"
export DRCTL_LOCALSTACK_VENV="${DRCTL_LOCALSTACK_VENV:-$DRCTL_ROOT/tests/emulator/.venv-localstack}"

ensure_localstack_venv() {
    local stamp="$DRCTL_LOCALSTACK_VENV/.drctl-localstack"
    local want="localstack-core[runtime]==$LOCALSTACK_VERSION exclude-newer=$LOCALSTACK_EXCLUDE_NEWER"
    if [[ -x "$DRCTL_LOCALSTACK_VENV/bin/python" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
        return 0
    fi
    echo "==> creating the LocalStack venv in $DRCTL_LOCALSTACK_VENV (localstack-core $LOCALSTACK_VERSION, pinned)"
    local started=$SECONDS
    local tools="$DRCTL_LOCALSTACK_VENV.tools"
    rm -rf "$DRCTL_LOCALSTACK_VENV" "$tools"
    python3 -m venv "$tools"
    "$tools/bin/pip" install --quiet --disable-pip-version-check uv
    "$tools/bin/uv" venv --quiet -p python3.11 "$DRCTL_LOCALSTACK_VENV"
    VIRTUAL_ENV="$DRCTL_LOCALSTACK_VENV" "$tools/bin/uv" pip install --quiet \
        --exclude-newer "$LOCALSTACK_EXCLUDE_NEWER" "localstack-core[runtime]==$LOCALSTACK_VERSION"
    rm -rf "$tools"
    echo "$want" >"$stamp"
    echo "    LocalStack venv ready in $((SECONDS - started)) s"
}
