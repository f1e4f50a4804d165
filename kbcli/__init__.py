"""The `kb` command line. It sits on top of web -> search -> kb and only parses, calls and reports."""
