"""Exploratory factor analysis through tetrachoric correlations: the correlations
(`tetrachoric`), factor extraction (`extraction`), rotation (`rotation`) and the fit (`fit`)."""
