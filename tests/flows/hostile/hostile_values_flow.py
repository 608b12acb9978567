"""Parameter defaults, help texts and @environment values that break naive quoting."""

import os

from metaflow import FlowSpec, JSONType, Parameter, environment, step

QUOTES = 'He said "hi" and \'bye\' """triple""" \'\'\'single\'\'\' \\" end'
BACKSLASH = "C:\\path\\to\\{x}\\n not a newline \\\\ \\x00 \\u1234"
NEWLINES = "line1\nline2\r\nline3\ttab\x0bvt\x0cff"
BRACES = "{} {0} {name} %s %(x)s $HOME ${HOME} $(id) `id` ;|&<>*?"
UNICODE = "ünïcødé — 日本語 🚀 \u200b zero-width \u202e rtl \ufeff bom"
LONG = ("abc\"\\'\n{}ü🚀 " * 1000)[:10000]
BLOB = '{"a": null, "b": [null, {"c": null, "d": "\\"q\\""}], "e": "ü", "f": {}}'
HELP = 'Help: """triple quotes""", \\backslashes\\, {braces},\nnewlines and NUL \x00.'
ENV = {
    "HV_QUOTES": QUOTES,
    "HV_BACKSLASH": BACKSLASH,
    "HV_NEWLINES": NEWLINES,
    "HV_BRACES": BRACES,
    "HV_UNICODE": UNICODE,
    "HV_LONG": LONG,
    "HV_EMPTY": "",
    "HV_INT": 5,
}


class HostileValuesFlow(FlowSpec):
    quotes = Parameter("quotes", default=QUOTES, help=HELP)
    backslash = Parameter("backslash", default=BACKSLASH, help=QUOTES)
    newlines = Parameter("newlines", default=NEWLINES, help=NEWLINES)
    braces = Parameter("braces", default=BRACES, help=BRACES)
    unicode = Parameter("unicode", default=UNICODE, help=UNICODE)
    long = Parameter("long", default=LONG, help=LONG)
    none_str = Parameter("none-str", default=None)
    none_int = Parameter("none_int", type=int, default=None)
    none_json = Parameter("NoneJson", type=JSONType, default=None)
    blob = Parameter("blob", type=JSONType, default=BLOB)
    number = Parameter("number", type=int, default=-7)
    ratio = Parameter("ratio", type=float, default=1e-300)
    flag = Parameter("flag", type=bool, default=True)

    @environment(vars=ENV)
    @step
    def start(self):
        self.seen = {
            name: getattr(self, name)
            for name in (
                "quotes",
                "backslash",
                "newlines",
                "braces",
                "unicode",
                "long",
                "none_str",
                "none_int",
                "none_json",
                "blob",
                "number",
                "ratio",
                "flag",
            )
        }
        self.env_seen = {name: os.environ.get(name) for name in ENV}
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    HostileValuesFlow()
