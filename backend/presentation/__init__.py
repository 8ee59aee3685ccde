"""What people read of a finished run, built once on the server from its stored result: the
units' names (`names`), the export tables (`tables`), the charts (`charts`), the HTML report
(`report`) and the ZIP bundle (`export`).

Everything here dispatches on the family's specification (backend/families) and on the fields a
result has, never on a model type's name. pandas and NumPy only; Altair and vl-convert are
imported inside the functions that draw, so importing the API does not import them.
"""
