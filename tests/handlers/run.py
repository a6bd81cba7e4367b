"""Runs the Lambda handlers' tests (test_*.py here) against an emulator
this process starts; ends with a line in cargo's format, which tests/run
counts with the Rust tests."""

import pathlib
import sys
import unittest

HERE = pathlib.Path(__file__).resolve().parent


def main() -> int:
    sys.path.insert(0, str(HERE))
    suite = unittest.defaultTestLoader.discover(
        str(HERE), pattern="test_*.py", top_level_dir=str(HERE)
    )
    result = unittest.TextTestRunner(verbosity=1).run(suite)
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - failed - len(result.skipped)
    verdict = "ok" if result.wasSuccessful() else "FAILED"
    ignored = len(result.skipped)
    print(f"test result: {verdict}. {passed} passed; {failed} failed; {ignored} ignored")
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
