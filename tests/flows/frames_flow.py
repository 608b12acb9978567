"""End-step artifacts that are a numpy array, a pandas data frame and series, and an
array too large to load for its metadata (24 MB pickled)."""

from metaflow import FlowSpec, step


class FramesFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        import numpy
        import pandas

        self.matrix = numpy.arange(12.0).reshape(3, 4)
        self.frame = pandas.DataFrame({"count": [1, 2, 3], "label": ["x", "y", "z"]})
        self.series = pandas.Series([1.5, 2.5])
        self.big = numpy.zeros(3_000_000)


if __name__ == "__main__":
    FramesFlow()
