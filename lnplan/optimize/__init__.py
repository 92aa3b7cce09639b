"""lnplan.optimize"""
