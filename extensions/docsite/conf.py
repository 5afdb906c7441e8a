# Sphinx configuration of the guestnet.failover docs site (scripts/test.sh docs), from `antsibull-docs sphinx-init`.
# Copyright (c) Ansible Project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Created with antsibull-docs 2.28.0

# This file only contains a selection of the most common options. For a full list see the
# documentation:
# http://www.sphinx-doc.org/en/master/config

project = 'guestnet.failover'
copyright = 'guestnet.failover developers'

title = 'guestnet.failover'
html_short_title = 'guestnet.failover'

extensions = ['sphinx.ext.autodoc', 'sphinx.ext.intersphinx', 'sphinx_antsibull_ext']

pygments_style = 'ansible'

highlight_language = 'YAML+Jinja'

html_theme = 'sphinx_ansible_theme'
html_show_sphinx = False

display_version = False

html_use_smartypants = True
html_use_modindex = False
html_use_index = False
html_copy_source = False

# See https://www.sphinx-doc.org/en/master/usage/extensions/intersphinx.html#confval-intersphinx_mapping for the syntax
# No intersphinx: these machines reach no documentation site, and the build must not depend on one. The two labels
# antsibull-docs links into Ansible's own docs are stand-ins in offline-labels.rst (links to docs.ansible.com).
intersphinx_mapping = {}

default_role = 'any'

nitpicky = True
