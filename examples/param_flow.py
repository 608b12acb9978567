from metaflow import FlowSpec, JSONType, Parameter, step


class ParamFlow(FlowSpec):
    """Parameters of every type, including names that are not Python identifiers."""

    greeting = Parameter("greeting", help="How to greet.", default="hello")
    count = Parameter("count", help="How many times.\nA second line of help.", default=3)
    ratio = Parameter("ratio", type=float, default=0.5)
    loud = Parameter("loud", type=bool, default=False)
    config_blob = Parameter("config-blob", type=JSONType, default='{"a": [1, null]}')
    klass = Parameter("class", help='A "keyword" name', default="k")
    who = Parameter("who", required=True, help="Required, no default.")
    maybe = Parameter("maybe", type=int, default=None, help="Optional, no default.")

    @step
    def start(self):
        words = [self.greeting] * self.count
        self.message = " ".join(words) + " " + self.who
        if self.loud:
            self.message = self.message.upper()
        self.seen = {
            "greeting": self.greeting,
            "count": self.count,
            "ratio": self.ratio,
            "loud": self.loud,
            "config_blob": self.config_blob,
            "class": self.klass,
            "who": self.who,
            "maybe": self.maybe,
        }
        self.next(self.end)

    @step
    def end(self):
        print(self.message)


if __name__ == "__main__":
    ParamFlow()
