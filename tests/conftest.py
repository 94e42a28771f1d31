"""Test configuration: Hypothesis profiles `dev` (25 examples) and `ci` (100, print_blob),
chosen by $HYPOTHESIS_PROFILE (default dev); see tinygrad_lc.testing.register_profiles."""

from tinygrad_lc.testing import register_profiles

register_profiles()
