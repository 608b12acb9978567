import os

from metaflow import Config, FlowSpec, config_expr, environment, step


class ConfigFlow(FlowSpec):
    """Config values, from defaults, --config-value and --config files."""

    settings = Config("settings", default_value={"lr": 0.5, "name": "default"})
    extra = Config("extra", default="extra_default.json")
    note = Config("note", default_value="plain text; not JSON", plain=True)

    @environment(vars={"MFD_FROM_CONFIG": config_expr("settings.name")})
    @step
    def start(self):
        self.seen = self.facts()
        self.from_env = os.environ.get("MFD_FROM_CONFIG")
        self.next(self.end)

    @step
    def end(self):
        self.seen_at_end = self.facts()

    def facts(self):
        return {
            "settings": self.settings.to_dict(),
            "lr_type": type(self.settings.lr).__name__,
            "extra": self.extra.to_dict(),
            "note": self.note,
        }


if __name__ == "__main__":
    ConfigFlow()
