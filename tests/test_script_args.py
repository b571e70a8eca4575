"""The training scripts' flags: one per dataclass field, the field's doc as its --help text."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest

from ncosolve.script_args import add_fields, field_docs, parse_dataclass


@dataclass
class Demo:
    size: int = 20
    """map side, in cells (100% of it)"""
    lr: float = 1e-3
    """Adam learning rate"""
    resume: str = ""
    fast: bool = False
    """skip validation"""


def test_every_field_becomes_a_flag_with_its_default_and_type():
    assert parse_dataclass(Demo, "demo", []) == Demo()
    args = parse_dataclass(Demo, "demo", ["--size", "7", "--lr", "0.5", "--resume", "runs/x", "--fast"])
    assert args == Demo(size=7, lr=0.5, resume="runs/x", fast=True)
    assert parse_dataclass(Demo, "demo", ["--no-fast"]).fast is False


def test_help_shows_the_field_docs(capsys):
    assert field_docs(Demo) == {"size": "map side, in cells (100% of it)", "lr": "Adam learning rate",
                                "fast": "skip validation"}
    parser = argparse.ArgumentParser()
    add_fields(parser, Demo, skip=("resume",))
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    out = capsys.readouterr().out
    assert "map side, in cells (100% of it) (default: 20)" in out and "--resume" not in out


def test_a_bad_value_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_dataclass(Demo, "demo", ["--size", "big"])
    assert exit_info.value.code == 2 and "invalid int value" in capsys.readouterr().err
