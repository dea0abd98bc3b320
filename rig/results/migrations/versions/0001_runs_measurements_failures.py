"""The first schema: runs, their measurements and their failures.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("schema", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("started", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended", sa.DateTime(timezone=True)),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("duration_s", sa.Float),
        sa.Column("dut_serial", sa.String(128)),
        sa.Column("dut_model", sa.String(128)),
        sa.Column("dut_firmware", sa.String(128)),
        sa.Column("dut_kind", sa.String(64)),
        sa.Column("rig_version", sa.String(64)),
        sa.Column("bench", sa.String(128)),
        sa.Column("station", sa.String(128)),
        sa.Column("bench_file", sa.Text),
        sa.Column("meter_profile", sa.String(128)),
        sa.Column("meter_capture", sa.Text),
        sa.Column("meter_speed", sa.Float),
        sa.Column("meter_start", sa.String(64)),
        sa.Column("meter_duration_s", sa.Float),
        sa.Column("run_dir", sa.Text),
        sa.Column("record", sa.JSON, nullable=False),
    )
    op.create_index("ix_runs_started", "runs", ["started"])
    op.create_index("ix_runs_day", "runs", ["day"])
    op.create_index("ix_runs_dut_serial", "runs", ["dut_serial"])
    op.create_table(
        "measurements",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("value_text", sa.Text),
        sa.Column("unit", sa.String(32)),
        sa.Column("low", sa.Float),
        sa.Column("high", sa.Float),
        sa.Column("expected", sa.Text),
        sa.Column("tolerance", sa.Float),
        sa.Column("outcome", sa.String(16), nullable=False),
    )
    op.create_index("ix_measurements_name", "measurements", ["name"])
    op.create_table(
        "failures",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("failure", sa.Integer, nullable=False),
        sa.Column("check_name", sa.String(256), nullable=False),
        sa.Column("frame", sa.Integer),
        sa.Column("interface", sa.String(64)),
        sa.Column("outcome", sa.String(64)),
        sa.Column("latency_ms", sa.Float),
        sa.Column("field", sa.String(128)),
        sa.Column("sent", sa.Text),
        sa.Column("published", sa.Text),
        sa.Column("tolerance", sa.Float),
        sa.Column("unit", sa.String(32)),
        sa.Column("detail", sa.Text),
        sa.Column("text", sa.Text),
    )
    op.create_index("ix_failures_check_name", "failures", ["check_name"])


def downgrade() -> None:
    op.drop_table("failures")
    op.drop_table("measurements")
    op.drop_table("runs")
