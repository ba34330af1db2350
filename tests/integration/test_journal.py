#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Placeholder while these tests are written.
print("1..0 # SKIP not written yet")
