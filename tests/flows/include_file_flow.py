from metaflow import FlowSpec, IncludeFile, step


class IncludeFileFlow(FlowSpec):
    """An IncludeFile parameter: `init` reads the file and stores it with the run."""

    table = IncludeFile("table", default="table.csv", help="A CSV file to count.")

    @step
    def start(self):
        self.rows = [line.split(",") for line in self.table.splitlines()]
        self.next(self.end)

    @step
    def end(self):
        print("rows", len(self.rows))


if __name__ == "__main__":
    IncludeFileFlow()
