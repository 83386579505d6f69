from .fast_single_roi_extractor import FastSingleRoIExtractor

__all__ = ['FastSingleRoIExtractor']
