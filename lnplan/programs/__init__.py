"""lnplan.programs"""
